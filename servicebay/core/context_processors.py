from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

from .roles import PERMISSIONS, user_can, user_roles

# (label, URL names tried in order, permission). Feature apps register their pages later; a nav
# item shows only once one of its URL names resolves, so the shell never links to a missing page.
# When the permission is not (yet) in the roles table, the feature's own views do the gating.
NAV: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("Today", ("shop:home",), "shop.view"),
    ("Customers", ("shop:customer_list",), "shop.view"),
    ("Appointments", ("shop:appointment_list",), "shop.view"),
    ("Job cards", ("shop:job_card_list",), "shop.view"),
    ("Segments", ("segments:index", "segments:list", "segments:segment_list"), "segments.view"),
    ("Loyalty", ("loyalty:index", "loyalty:program_list"), "loyalty.view"),
    ("Messaging", ("messaging:index", "messaging:journey_list"), "messaging.view"),
    ("Warehouse", ("warehouse:status",), "warehouse.view"),
)
# The front-desk pages stay in the bar; the rest go under "More" (a <details> menu, no script), so
# the bar fits at 1280 px and on a tablet however many feature apps a role can open.
NAV_PRIMARY = frozenset({"Today", "Customers", "Appointments", "Job cards"})


def roles(request: HttpRequest) -> dict:
    """Expose `can.<permission>` (dots become underscores) and the user's roles to templates."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"can": {}, "my_roles": []}
    can = {perm.replace(".", "_"): user_can(user, perm) for perm in PERMISSIONS}
    return {"can": can, "my_roles": sorted(r.label for r in user_roles(user))}


def _first_url(names: tuple[str, ...]) -> str | None:
    for name in names:
        try:
            return reverse(name)
        except NoReverseMatch:
            continue
    return None


def navigation(request: HttpRequest) -> dict:
    """The top navigation: items whose page exists and that the signed-in user may open."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": []}
    items = []
    path = request.path
    for label, names, permission in NAV:
        if permission in PERMISSIONS and not user_can(user, permission):
            continue
        url = _first_url(names)
        if url is None:
            continue
        active = path == url if url == "/" else path.startswith(url)
        items.append({"label": label, "url": url, "active": active, "primary": label in NAV_PRIMARY})
    more = [item for item in items if not item["primary"]]
    return {
        "nav_items": items,
        "nav_main": [item for item in items if item["primary"]],
        "nav_more": more,
        "nav_more_active": any(item["active"] for item in more),
        "nav_search_url": _first_url(("shop:customer_list",)),
        "nav_home_url": _first_url(("shop:home",)) or "/",
    }

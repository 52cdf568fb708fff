from django.http import HttpRequest

from .roles import PERMISSIONS, user_can, user_roles


def roles(request: HttpRequest) -> dict:
    """Expose `can.<permission>` (dots become underscores) and the user's roles to templates."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"can": {}, "my_roles": []}
    can = {perm.replace(".", "_"): user_can(user, perm) for perm in PERMISSIONS}
    return {"can": can, "my_roles": sorted(r.label for r in user_roles(user))}

"""The console's tabs. A tab is listed only once the app that fills it ships its panel template.

Feature apps render their own panel (``<app>/partials/…``) with the context the console gives
every panel: ``customer`` (home location and vehicles loaded), ``can`` (permissions) and
``request``. The panel loads its own data (e.g. with ``hx-get`` to its app's URL, or a template
tag) — the console never reaches into another app's models.
"""

from __future__ import annotations

from dataclasses import dataclass

from .providers import template_exists


@dataclass(frozen=True)
class Tab:
    key: str
    label: str
    template: str  # the console's own partial, or the feature app's panel

    @property
    def available(self) -> bool:
        return template_exists(self.template)


TABS: tuple[Tab, ...] = (
    Tab("overview", "Overview", "customer360/partials/tab_overview.html"),
    Tab("timeline", "Timeline", "visits/partials/timeline_panel.html"),
    Tab("vehicles", "Vehicles", "customer360/partials/tab_vehicles.html"),
    Tab("loyalty", "Loyalty", "loyalty/partials/customer_panel.html"),
    Tab("communications", "Communications", "messaging/partials/customer_panel.html"),
)
DEFAULT_TAB = "overview"


def available_tabs() -> list[Tab]:
    return [tab for tab in TABS if tab.available]


def tab_get(key: str) -> Tab | None:
    """The tab with this key if it is available, else None."""
    return next((tab for tab in available_tabs() if tab.key == key), None)

"""Which feature apps can fill which part of the console.

Customer 360 reads the other apps only through their public selectors and partial templates. A
panel, KPI or tab shows once the app that provides it has landed and offers what the console
needs — and before that it is absent, never a placeholder zero. This module is the one place that
asks "is it there?", so the rest of the console reads ``if provider.offers(...)`` instead of
scattering import guards.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from types import ModuleType
from typing import Any

from django.template import TemplateDoesNotExist
from django.template.loader import get_template


@cache
def _module(name: str) -> ModuleType | None:
    """The module if its file exists; a module that exists but fails to import stays loud."""
    try:
        spec = importlib.util.find_spec(name)
    except ModuleNotFoundError:
        return None
    if spec is None:
        return None
    return importlib.import_module(name)


@cache
def template_exists(name: str) -> bool:
    try:
        get_template(name)
    except TemplateDoesNotExist:
        return False
    return True


@dataclass(frozen=True)
class Provider:
    """A feature app (``servicebay.<app>``) seen through its selectors, services and partials."""

    app: str

    def _attr(self, role: str, name: str) -> Callable[..., Any] | None:
        module = _module(f"servicebay.{self.app}.{role}")
        value = getattr(module, name, None) if module is not None else None
        return value if callable(value) else None

    def selector(self, name: str) -> Callable[..., Any] | None:
        return self._attr("selectors", name)

    def service(self, name: str) -> Callable[..., Any] | None:
        return self._attr("services", name)

    def offers(self, *selectors: str) -> bool:
        """True when every named selector exists."""
        return all(self.selector(name) is not None for name in selectors)

    def call(self, selector: str, **kwargs: Any) -> Any:
        """Call a selector the provider offers; None when it does not (yet) offer it."""
        fn = self.selector(selector)
        return fn(**kwargs) if fn is not None else None


VISITS = Provider("visits")
LOYALTY = Provider("loyalty")
MESSAGING = Provider("messaging")

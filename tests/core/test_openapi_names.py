"""Ninja names OpenAPI components after the Schema class: two apps with the same class name would
silently publish one app's body for the other's operation."""

from collections import Counter

from ninja import Schema

from servicebay.api import api


def _schemas(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _schemas(sub)


def test_api_schema_class_names_are_unique_across_apps():
    api.get_openapi_schema()  # imports every router and its schemas
    ours = [c for c in _schemas(Schema) if c.__module__.startswith("servicebay.")]
    counts = Counter(c.__name__ for c in ours)
    clashes = {
        name: sorted(c.__module__ for c in ours if c.__name__ == name)
        for name, n in counts.items() if n > 1
    }
    assert clashes == {}

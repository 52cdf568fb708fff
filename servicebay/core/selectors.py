"""Reads of cross-cutting objects: API keys."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import KEY_PREFIX, ApiKey


def api_key_list(*, include_revoked: bool = True) -> QuerySet[ApiKey]:
    """Keys newest first, with their creator loaded."""
    qs = ApiKey.objects.select_related("created_by")
    if not include_revoked:
        qs = qs.active()
    return qs.order_by("-created_at", "-id")


def api_key_get_by_prefix(*, prefix: str) -> ApiKey | None:
    """The key whose public prefix is ``prefix`` (``sb_`` and anything after the prefix ignored)."""
    parts = prefix.strip().split("_")
    if parts and parts[0] == KEY_PREFIX:
        parts = parts[1:]
    if not parts or not parts[0]:
        return None
    return ApiKey.objects.filter(prefix=parts[0].lower()).first()

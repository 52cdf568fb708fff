"""Time is stored in UTC and shown in the location's or customer's IANA zone."""

from __future__ import annotations

import zoneinfo
from datetime import datetime
from functools import lru_cache

from django.core.exceptions import ValidationError


@lru_cache(maxsize=1)
def available_time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def validate_time_zone(value: str) -> None:
    if value not in available_time_zones():
        raise ValidationError(f"{value!r} is not an IANA time zone (e.g. America/Chicago).")


def local(dt: datetime | None, tz_name: str) -> datetime | None:
    if dt is None:
        return None
    return dt.astimezone(zoneinfo.ZoneInfo(tz_name))

"""Quiet hours, evaluated on the recipient's wall clock.

A window ``start``-``end`` in local time (``21:00``-``08:00`` wraps midnight; ``start == end``
means no quiet hours). A message due inside it moves to the window's end on the local clock. DST:
an end time that does not exist that day (spring forward) moves to the next valid minute, the
first instant after the gap; an ambiguous one (fall back) takes its first occurrence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from django.conf import settings

DEFAULT_START = time(21, 0)
DEFAULT_END = time(8, 0)


@dataclass(frozen=True)
class QuietHours:
    start: time
    end: time
    tz_name: str

    def next_allowed(self, at_utc: datetime) -> datetime:
        return quiet_hours_next_allowed(at_utc, self.tz_name, self.start, self.end)

    def is_quiet(self, at_utc: datetime) -> bool:
        return is_quiet(at_utc, self.tz_name, self.start, self.end)


@lru_cache(maxsize=512)
def _zone(tz_name: str) -> ZoneInfo:
    return ZoneInfo(tz_name)


def _minute_of(t: time) -> int:
    return t.hour * 60 + t.minute


def _in_window(local: datetime, start: time, end: time) -> bool:
    # Compare at minute resolution plus seconds, so 07:59:30 is still quiet when the window ends 08:00.
    now = local.hour * 60 + local.minute + (local.second + local.microsecond / 1e6) / 60
    s, e = _minute_of(start), _minute_of(end)
    if s == e:
        return False
    if s < e:
        return s <= now < e
    return now >= s or now < e


def is_quiet(at_utc: datetime, tz_name: str, start: time, end: time) -> bool:
    """Is ``at_utc`` inside the quiet window on the wall clock of ``tz_name``?"""
    return _in_window(at_utc.astimezone(_zone(tz_name)), start, end)


def local_to_utc(day: date, wall: time, tz_name: str) -> datetime:
    """The UTC instant of a wall-clock time: first occurrence if ambiguous, the end of the gap
    (the next valid minute) if it does not exist."""
    zone = _zone(tz_name)
    naive = datetime.combine(day, wall.replace(second=0, microsecond=0))
    first = naive.replace(tzinfo=zone, fold=0)
    utc_first = first.astimezone(UTC)
    if utc_first.astimezone(zone).replace(tzinfo=None) == naive:
        return utc_first  # exists; for an ambiguous time fold=0 is its first occurrence
    # Inside a gap: fold=0 resolves with the offset before the jump, fold=1 with the one after,
    # so the transition instant lies between them. Find the first minute whose wall clock is past
    # the requested time (whole-minute search, a gap is at most a day long).
    utc_second = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    low, high = sorted((utc_first, utc_second))
    low = low.replace(second=0, microsecond=0)
    while high - low > timedelta(minutes=1):
        mid = low + timedelta(minutes=((high - low) // timedelta(minutes=1)) // 2)
        if mid.astimezone(zone).replace(tzinfo=None) >= naive:
            high = mid
        else:
            low = mid
    return high


def _end_at_or_after(day: date, end: time, tz_name: str, not_before: datetime) -> datetime | None:
    """The instant the wall clock reads ``end`` on ``day``, the first such one not before
    ``not_before`` (on a fall-back day the second occurrence if the first has passed)."""
    first = local_to_utc(day, end, tz_name)
    if first >= not_before:
        return first
    zone = _zone(tz_name)
    naive = datetime.combine(day, end.replace(second=0, microsecond=0))
    second = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    if second >= not_before and second.astimezone(zone).replace(tzinfo=None) == naive:
        return second
    return None


def quiet_hours_next_allowed(at_utc: datetime, tz_name: str, start: time, end: time) -> datetime:
    """The earliest instant at or after ``at_utc`` outside quiet hours, in UTC."""
    candidate = at_utc.astimezone(UTC)
    # A window end that lands in a DST gap may resolve to an instant still inside the window
    # (pathological windows only); a few rounds settle it.
    for _ in range(8):
        local = candidate.astimezone(_zone(tz_name))
        if not _in_window(local, start, end):
            return candidate
        day = local.date()
        if _minute_of(start) > _minute_of(end) and _minute_of(local.time()) >= _minute_of(start):
            day += timedelta(days=1)
        candidate = (
            _end_at_or_after(day, end, tz_name, candidate)
            or _end_at_or_after(day + timedelta(days=1), end, tz_name, candidate)
            or candidate + timedelta(minutes=1)
        )
    return candidate


def default_quiet_hours() -> tuple[time, time]:
    """The house default (21:00-08:00) unless settings.MESSAGING_QUIET_HOURS overrides it."""
    configured = getattr(settings, "MESSAGING_QUIET_HOURS", None)
    if configured:
        start, end = configured
        return time.fromisoformat(start), time.fromisoformat(end)
    return DEFAULT_START, DEFAULT_END


def quiet_hours_for(customer, journey=None) -> QuietHours:
    """The window that applies to a customer: the journey's override, else the home location's,
    else the house default — always on the customer's wall clock."""
    tz_name = customer.effective_time_zone
    if journey is not None and journey.quiet_hours_start is not None:
        return QuietHours(journey.quiet_hours_start, journey.quiet_hours_end, tz_name)
    location = customer.home_location if customer.home_location_id else None
    if location is not None:
        return QuietHours(location.quiet_hours_start, location.quiet_hours_end, tz_name)
    start, end = default_quiet_hours()
    return QuietHours(start, end, tz_name)

from datetime import UTC, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from servicebay.messaging.quiet_hours import (
    is_quiet,
    local_to_utc,
    quiet_hours_for,
    quiet_hours_next_allowed,
)
from tests import factories

ZONES = sorted(z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/")))


@cache
def transitions(zone_name: str) -> tuple[datetime, ...]:
    """UTC instants (to the minute) where the zone's offset changes in 2025-2026."""
    zone = ZoneInfo(zone_name)
    found = []
    t = datetime(2025, 1, 1, tzinfo=UTC)
    end = datetime(2027, 1, 1, tzinfo=UTC)
    step = timedelta(hours=6)
    offset = t.astimezone(zone).utcoffset()
    while t < end:
        nxt = t + step
        off = nxt.astimezone(zone).utcoffset()
        if off != offset:
            lo, hi = t, nxt
            while hi - lo > timedelta(minutes=1):
                mid = lo + (hi - lo) / 2
                if mid.astimezone(zone).utcoffset() == offset:
                    lo = mid
                else:
                    hi = mid
            found.append(hi.replace(second=0, microsecond=0))
            offset = off
        t = nxt
    return tuple(found)


DST_ZONES = [z for z in ZONES if transitions(z)]
minutes = st.integers(min_value=0, max_value=24 * 60 - 1).map(lambda m: time(m // 60, m % 60))


def assert_earliest_allowed(at: datetime, zone: str, start: time, end: time) -> datetime:
    result = quiet_hours_next_allowed(at, zone, start, end)
    assert result >= at
    assert not is_quiet(result, zone, start, end), (at, zone, start, end, result)
    # Every minute from `at` up to the result is quiet: nothing earlier was allowed.
    probe = at
    while probe < result:
        assert is_quiet(probe, zone, start, end), (at, zone, start, end, result, probe)
        probe += timedelta(minutes=1)
    if result > at:
        assert result.second == 0 and result.microsecond == 0
    return result


@settings(max_examples=300, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    at=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2037, 12, 31),
                    timezones=st.just(UTC)),
    start=minutes,
    end=minutes,
)
def test_never_allowed_inside_quiet_hours_in_any_zone(zone, at, start, end):
    assert_earliest_allowed(at, zone, start, end)


@settings(max_examples=400, deadline=None)
@given(data=st.data(), start=minutes, end=minutes)
def test_never_allowed_inside_quiet_hours_around_dst_changes(data, start, end):
    zone = data.draw(st.sampled_from(DST_ZONES), label="zone")
    transition = data.draw(st.sampled_from(transitions(zone)), label="transition")
    offset = data.draw(st.integers(min_value=-36 * 60, max_value=36 * 60), label="minutes")
    at = transition + timedelta(minutes=offset, seconds=data.draw(st.integers(0, 59)))
    # Bias the window's end onto the wall-clock hours that DST skips or repeats.
    if data.draw(st.booleans(), label="end near transition"):
        wall = (transition + timedelta(minutes=data.draw(st.integers(-90, 90)))).astimezone(ZoneInfo(zone))
        end = time(wall.hour, wall.minute)
    assert_earliest_allowed(at, zone, start, end)


def test_deferred_to_end_of_window_on_the_recipients_clock():
    at = datetime(2026, 6, 10, 3, 0, tzinfo=UTC)  # 22:00 in Chicago (CDT, UTC-5)
    result = quiet_hours_next_allowed(at, "America/Chicago", time(21), time(8))
    assert result == datetime(2026, 6, 10, 13, 0, tzinfo=UTC)  # 08:00 CDT next morning


def test_outside_quiet_hours_is_unchanged():
    at = datetime(2026, 6, 10, 15, 30, 12, tzinfo=UTC)
    assert quiet_hours_next_allowed(at, "America/Chicago", time(21), time(8)) == at


def test_equal_start_and_end_means_no_quiet_hours():
    at = datetime(2026, 6, 10, 3, 0, tzinfo=UTC)
    assert quiet_hours_next_allowed(at, "Europe/Berlin", time(0), time(0)) == at


def test_nonexistent_end_time_moves_to_next_valid_minute():
    # 2026-03-08: New York springs from 02:00 EST to 03:00 EDT; a window ending 02:30 ends at 03:00.
    at = datetime(2026, 3, 8, 6, 0, tzinfo=UTC)  # 01:00 EST
    result = quiet_hours_next_allowed(at, "America/New_York", time(21), time(2, 30))
    assert result == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)
    assert result.astimezone(ZoneInfo("America/New_York")).time() == time(3, 0)


def test_ambiguous_end_time_takes_first_occurrence():
    # 2026-11-01: 01:00-02:00 happens twice in New York; a window ending 01:30 ends at the first.
    at = datetime(2026, 11, 1, 4, 30, tzinfo=UTC)  # 00:30 EDT
    result = quiet_hours_next_allowed(at, "America/New_York", time(21), time(1, 30))
    assert result == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 01:30 EDT


def test_ambiguous_end_already_passed_takes_the_second_occurrence():
    at = datetime(2026, 11, 1, 6, 10, tzinfo=UTC)  # 01:10 EST, the second time round
    result = quiet_hours_next_allowed(at, "America/New_York", time(1, 0), time(1, 30))
    assert result == datetime(2026, 11, 1, 6, 30, tzinfo=UTC)


def test_skipped_calendar_day_is_handled():
    # Samoa skipped 30 December 2011 entirely.
    at = datetime(2011, 12, 30, 8, 0, tzinfo=UTC)  # 22:00 on 29 Dec, local (UTC-10)
    result = assert_earliest_allowed(at, "Pacific/Apia", time(21), time(8))
    assert result.astimezone(ZoneInfo("Pacific/Apia")).replace(tzinfo=None) == datetime(2011, 12, 31, 8, 0)


def test_local_to_utc_half_hour_dst_zone():
    # Lord Howe Island moves by 30 minutes: 02:00 -> 02:30 on 2026-10-04.
    assert local_to_utc(datetime(2026, 10, 4).date(), time(2, 10), "Australia/Lord_Howe") == (
        datetime(2026, 10, 3, 15, 30, tzinfo=UTC)
    )


@pytest.mark.django_db
def test_window_comes_from_home_location_in_customer_zone():
    location = factories.make_location(time_zone="America/Chicago", quiet_hours_start=time(20),
                                       quiet_hours_end=time(9))
    customer = factories.make_customer(home_location=location, time_zone="Europe/Berlin")
    window = quiet_hours_for(customer)
    assert (window.start, window.end, window.tz_name) == (time(20), time(9), "Europe/Berlin")


@pytest.mark.django_db
def test_journey_override_wins_over_location():
    from servicebay.messaging.models import Journey

    customer = factories.make_customer(home_location=factories.make_location())
    journey = Journey(code="x", name="x", quiet_hours_start=time(18), quiet_hours_end=time(10))
    window = quiet_hours_for(customer, journey)
    assert (window.start, window.end, window.tz_name) == (time(18), time(10), "America/Chicago")


@pytest.mark.django_db
def test_customer_without_location_uses_house_default():
    customer = factories.make_customer(time_zone="Asia/Tokyo")
    window = quiet_hours_for(customer)
    assert (window.start, window.end, window.tz_name) == (time(21), time(8), "Asia/Tokyo")

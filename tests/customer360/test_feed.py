import pytest

from servicebay.customer360 import feed

CTX = feed.Context(time_zone="America/Chicago", currency="USD")


@pytest.mark.parametrize(
    ("kind", "payload", "title", "detail"),
    [
        ("note.added", {"excerpt": "Call before noon", "pinned": True}, "Pinned note", "Call before noon"),
        ("customer.updated", {"fields": ["email", "home_location"]}, "Details updated",
         "email, home location"),
        ("appointment.booked",
         {"start_at": "2026-03-10T15:00:00+00:00", "location": "Bay 1", "vehicle": "2019 Toyota Camry",
          "services": ["OIL"]},
         "Appointment booked", "Tue 10 Mar 2026, 10:00 · Bay 1 · 2019 Toyota Camry · OIL"),
        ("appointment.no_show", {"from": "booked"}, "Appointment missed (no-show)", ""),
        ("jobcard.completed", {"number": 12, "from": "in_progress", "total": "412.5"},
         "Job card #12 completed", "$412.50"),
        ("visit.checked_out", {"total_spend": "99.90", "currency": "CAD", "location": "North"},
         "Checked out", "$99.90 · North"),
        ("visit.rated", {"score": 2, "source": "customer_link"}, "Rated the visit 2/5", "by the customer"),
        ("recommendation.declined",
         {"name": "Brake pads", "estimated_price": "180.00", "measured_value": "3 mm", "reason": ""},
         "Declined: Brake pads", "$180.00 · 3 mm"),
        ("message.scheduled",
         {"channel": "sms", "status": "deferred", "scheduled_for": "2026-03-11T13:00:00+00:00",
          "template": "reminder", "purpose": "transactional"},
         "Message by SMS held for quiet hours", "goes out Wed 11 Mar 2026, 08:00 · reminder"),
        ("message.received", {"channel": "sms", "keyword": "stop", "excerpt": "STOP"},
         "Opted out by SMS (STOP)", "STOP"),
        ("consent.changed", {"channel": "email", "purpose": "marketing", "granted": True, "source": "form"},
         "Opted in to marketing by email", "form"),
        ("loyalty.earned", {"points": 120, "balance": 1450, "job_card_number": 7}, "Earned 120 points",
         "job card #7 · balance 1,450"),
        ("loyalty.redeemed", {"points": -500, "balance": 950}, "Redeemed 500 points", "balance 950"),
        ("loyalty.tier_changed", {"to_name": "Gold", "direction": "up", "program": "Rewards"},
         "Moved up to Gold", "Rewards"),
    ],
)
def test_each_kind_reads_as_a_sentence(kind, payload, title, detail):
    line = feed.describe(kind, payload, CTX)
    assert (line.title, line.detail) == (title, detail)


def test_an_unknown_kind_reads_from_its_name():
    assert feed.describe("warehouse.sync_finished", {}, CTX).title == "Warehouse: sync finished"


def test_a_payload_missing_its_fields_still_shows_the_kind():
    assert feed.describe("loyalty.earned", {}, CTX).title == "Loyalty: earned"


def test_every_known_kind_belongs_to_a_family():
    assert all(feed.family_of(kind) is not None for kind in feed.DESCRIBERS)


def test_family_filter_matches_prefixes_and_exact_kinds_match_exactly():
    condition = feed.kind_filter(["message", "note.added"])
    text = str(condition)
    assert "message." in text and "consent." in text and "note.added" in text

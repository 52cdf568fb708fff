from datetime import timedelta

import pytest
from django.utils import timezone

from servicebay.core.errors import InvalidTransition
from servicebay.segments import selectors, services
from servicebay.segments.choices import SegmentKind, SnapshotSource
from servicebay.segments.compiler import members_queryset
from servicebay.segments.dsl import FilterInvalid, parse_filter
from servicebay.segments.models import SegmentMember
from servicebay.shop import services as shop
from tests.factories import SYSTEM

pytestmark = pytest.mark.django_db

TOYOTA = {"root": {"field": "vehicle", "make": "Toyota"}}
BIG_SPENDERS = {"root": {"field": "lifetime_spend", "op": "gte", "value": "500"}}


def _members(snapshot) -> set[int]:
    return set(SegmentMember.objects.filter(snapshot=snapshot).values_list("customer_id", flat=True))


def test_create_stores_the_canonical_filter_and_a_first_count(population):
    segment = services.segment_create(actor=SYSTEM, name=" Toyota owners ", filter=TOYOTA)
    assert segment.name == "Toyota owners"
    assert segment.filter == {"version": 1, "root": {"field": "vehicle", "op": "has", "make": "Toyota"}}
    assert segment.last_count == 2
    assert [p.count for p in selectors.segment_count_history(segment=segment)] == [2]


def test_create_refuses_an_invalid_filter(population):
    with pytest.raises(FilterInvalid):
        services.segment_create(actor=SYSTEM, name="x", filter={"root": {"field": "nope"}})


def test_changing_the_filter_bumps_its_version_but_a_rename_does_not(population):
    segment = services.segment_create(actor=SYSTEM, name="s", filter=TOYOTA)
    services.segment_update(segment=segment, actor=SYSTEM, name="renamed")
    segment.refresh_from_db()
    assert segment.filter_version == 1
    services.segment_update(segment=segment, actor=SYSTEM, filter=BIG_SPENDERS)
    segment.refresh_from_db()
    assert (segment.filter_version, segment.last_count) == (2, 2)


def test_a_snapshot_freezes_the_members(population):
    segment = services.segment_create(actor=SYSTEM, name="s", filter=TOYOTA)
    snapshot = services.snapshot_take(segment=segment, actor=SYSTEM)
    assert _members(snapshot) == population.ids("alice", "dave")
    assert snapshot.member_count == 2
    assert snapshot.filter == segment.filter
    # Bob buys a Toyota: the snapshot does not change, the next one does.
    shop.vehicle_create(customer=population.people["bob"], actor=SYSTEM, make="Toyota",
                        model="Yaris", year=2020)
    assert _members(snapshot) == population.ids("alice", "dave")
    later = services.snapshot_take(segment=segment, actor=SYSTEM)
    assert _members(later) == population.ids("alice", "bob", "dave")


def test_snapshot_equals_the_live_query_at_its_as_of(population):
    root = {"root": {"field": "last_visit", "op": "within_days", "value": 60}}
    segment = services.segment_create(actor=SYSTEM, name="recent", filter=root)
    as_of = population.now
    snapshot = services.snapshot_take(segment=segment, actor=SYSTEM, as_of=as_of)
    expected = set(members_queryset(parse_filter(root), as_of=as_of).values_list("pk", flat=True))
    assert _members(snapshot) == expected == population.ids("alice", "dave", "erin")


def test_diff_lists_who_entered_and_who_exited(population):
    segment = services.segment_create(actor=SYSTEM, name="s", filter=TOYOTA)
    before = services.snapshot_take(segment=segment, actor=SYSTEM)
    services.segment_update(segment=segment, actor=SYSTEM, filter=BIG_SPENDERS)
    after = services.snapshot_take(segment=segment, actor=SYSTEM)
    diff = selectors.snapshot_diff(before=before, after=after)
    assert set(diff.entered.values_list("pk", flat=True)) == population.ids("erin")
    assert set(diff.exited.values_list("pk", flat=True)) == population.ids("dave")


def test_static_segment_from_csv_matches_ids_emails_and_phones(population):
    alice, bob = population.people["alice"], population.people["bob"]
    data = f"email,name\n{alice.email.upper()},A\nnobody@example.com,N\n{bob.email},B\n".encode()
    report = services.segment_import_static(actor=SYSTEM, name="imported", data=data)
    assert report.segment.kind == SegmentKind.STATIC
    assert (report.rows, report.matched) == (3, 2)
    assert report.unmatched == [(3, "nobody@example.com")]
    assert _members(report.snapshot) == population.ids("alice", "bob")
    assert report.snapshot.source == SnapshotSource.IMPORT
    by_id = services.segment_import_static(
        actor=SYSTEM, name="ids", data=f"customer_id\n{alice.pk}\n{alice.pk}\n999999\n".encode())
    assert (by_id.matched, len(by_id.unmatched)) == (1, 1)
    by_phone = services.segment_import_static(
        actor=SYSTEM, name="phones", data=f"phone_number\n{bob.phone}\n".encode())
    assert _members(by_phone.snapshot) == population.ids("bob")


def test_csv_without_a_key_column_is_refused(population):
    from servicebay.core.errors import DomainError

    with pytest.raises(DomainError, match="customer_id, email or phone_number"):
        services.segment_import_static(actor=SYSTEM, name="x", data=b"name\nA\n")


def test_a_static_segment_takes_no_new_snapshot(population):
    report = services.segment_import_static(
        actor=SYSTEM, name="x", data=f"customer_id\n{population.people['alice'].pk}\n".encode())
    with pytest.raises(InvalidTransition):
        services.snapshot_take(segment=report.segment, actor=SYSTEM)


def test_due_segments_are_snapshotted_once_and_rescheduled(population):
    now = timezone.now()
    due = services.segment_create(actor=SYSTEM, name="due", filter=TOYOTA, snapshot_every_hours=24,
                                  now=now - timedelta(days=2))
    not_due = services.segment_create(actor=SYSTEM, name="later", filter=TOYOTA,
                                      snapshot_every_hours=24, now=now)
    archived = services.segment_create(actor=SYSTEM, name="gone", filter=TOYOTA,
                                       snapshot_every_hours=1, now=now - timedelta(days=2))
    services.segment_archive(segment=archived, actor=SYSTEM)
    taken = services.snapshots_take_due(actor=SYSTEM, now=now)
    assert len(taken) == 1
    due.refresh_from_db()
    assert due.snapshots.get().source == SnapshotSource.SCHEDULE
    assert due.next_snapshot_at == now + timedelta(hours=24)
    assert not not_due.snapshots.exists()
    assert services.snapshots_take_due(actor=SYSTEM, now=now) == []


def test_count_history_grows_with_each_count(population):
    segment = services.segment_create(actor=SYSTEM, name="s", filter=TOYOTA)
    services.segment_count(segment=segment)
    services.snapshot_take(segment=segment, actor=SYSTEM)
    assert [p.count for p in selectors.segment_count_history(segment=segment)] == [2, 2, 2]

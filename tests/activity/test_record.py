"""The event log is written only inside the change's transaction, and carries its txid on PG."""

import pytest
from django.db import connection, transaction

from servicebay.activity.models import Event
from servicebay.activity.selectors import event_list_for_customer
from servicebay.activity.services import EventOutsideTransaction, record
from servicebay.shop.models import Customer
from tests import factories


@pytest.mark.django_db(transaction=True)
def test_record_outside_a_transaction_raises():
    customer = factories.make_customer()
    with pytest.raises(EventOutsideTransaction):
        record("note.added", actor=factories.SYSTEM, customer=customer)
    assert not Event.objects.filter(kind="note.added").exists()


@pytest.mark.django_db(transaction=True)
def test_event_and_change_roll_back_together():
    with pytest.raises(RuntimeError), transaction.atomic():
        factories.make_customer(last_name="Ghost")
        raise RuntimeError("the request failed after the service returned")
    assert not Customer.objects.filter(last_name="Ghost").exists()
    assert not Event.objects.filter(kind="customer.created").exists()


@pytest.mark.django_db(transaction=True)
def test_committed_change_has_exactly_one_event():
    customer = factories.make_customer()
    events = Event.objects.filter(kind="customer.created", customer=customer)
    assert [(e.subject_type, e.subject_id, e.actor) for e in events] == [
        ("shop.customer", customer.pk, "test")]


def test_record_stores_subject_actor_and_payload(db, advisor, customer):
    from servicebay.core.actors import Actor

    with transaction.atomic():
        event = record("customer.called", actor=Actor.for_user(advisor), customer=customer,
                       subject=customer, payload={"minutes": 4})
    event.refresh_from_db()
    assert (event.kind, event.customer_id, event.subject_type, event.subject_id) == (
        "customer.called", customer.pk, "shop.customer", customer.pk)
    assert (event.actor, event.actor_user_id, event.payload) == (
        f"user:{advisor.pk}", advisor.pk, {"minutes": 4})


@pytest.mark.skipif(connection.vendor != "postgresql", reason="txid is PostgreSQL's")
def test_event_carries_the_id_of_the_transaction_that_wrote_it(db, customer):
    with transaction.atomic():
        event = record("customer.called", actor=factories.SYSTEM, customer=customer)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_current_xact_id()::text::bigint")
            current = cursor.fetchone()[0]
    assert event.txid == current
    assert Event.objects.get(pk=event.pk).txid == current


@pytest.mark.skipif(connection.vendor == "postgresql", reason="SQLite stores no txid")
def test_sqlite_events_have_no_txid(db, customer):
    assert Event.objects.get(kind="customer.created", customer=customer).txid is None


def test_customer_feed_is_newest_first(db, customer):
    factories.make_vehicle(customer)
    services_kinds = [e.kind for e in event_list_for_customer(customer_id=customer.pk)]
    assert services_kinds == ["vehicle.added", "customer.created"]
    only = event_list_for_customer(customer_id=customer.pk, kinds=["vehicle.added"])
    assert [e.kind for e in only] == ["vehicle.added"]

"""Several workers, injected crashes, one send per idempotency key (DESIGN §3)."""

import random
import threading
from datetime import timedelta

import pytest
from django.db import close_old_connections, connection
from django.utils import timezone

from servicebay.messaging import outbox, services
from servicebay.messaging.choices import Channel, MessageStatus, Purpose
from servicebay.messaging.models import Message
from tests import factories
from tests.messaging.conftest import STAFF

pytestmark = pytest.mark.django_db(transaction=True)


class Worker:
    """One dispatcher process. ``crash_after_send`` / ``crash_before_send`` hold the message ids
    at which this worker dies: after the provider accepted (before recording), or right after
    claiming."""

    def __init__(self, crash_after_send: set[int], crash_before_send: set[int]) -> None:
        self.crash_after_send = crash_after_send
        self.crash_before_send = crash_before_send
        self.crashed = 0

    def round(self, now) -> int:
        claimed = outbox.outbox_claim(now=now, limit=4)
        for message in claimed:
            if message.pk in self.crash_before_send:
                self.crash_before_send.discard(message.pk)
                self.crashed += 1
                continue
            outcome = outbox.outbox_send(message)
            if message.pk in self.crash_after_send:
                self.crash_after_send.discard(message.pk)
                self.crashed += 1
                continue
            outbox.outbox_record(message, outcome)
        return len(claimed)


def run_rounds(workers, now) -> None:
    if connection.vendor == "postgresql":
        def loop(worker):
            try:
                while worker.round(now):
                    pass
            finally:
                close_old_connections()
                connection.close()

        threads = [threading.Thread(target=loop, args=(w,)) for w in workers]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        return
    # SQLite has one writer: interleave the workers' rounds instead of running them at once.
    while sum(w.round(now) for w in workers):
        pass


def test_several_workers_with_injected_crashes_send_each_message_once(provider, open_location):
    rng = random.Random(5)
    customers = [factories.make_customer(home_location=open_location, phone=f"+1312555{7000 + i:04d}")
                 for i in range(24)]
    messages = [
        services.message_schedule(customer=c, purpose=Purpose.TRANSACTIONAL, actor=STAFF, channel=Channel.SMS,
                                  text=f"Your car is ready ({i})", idempotency_key=f"ready-{i}")
        for i, c in enumerate(customers)
    ]
    ids = [m.pk for m in messages]
    rng.shuffle(ids)
    after_send, before_send = set(ids[:5]), set(ids[5:9])
    workers = [Worker(after_send, before_send) for _ in range(4)]
    now = timezone.now()
    run_rounds(workers, now)
    assert sum(w.crashed for w in workers) == 9

    # The crashed rows are still "sending"; once their lease runs out they are reconciled.
    later = now + outbox.LEASE + timedelta(seconds=1)
    assert Message.objects.filter(status=MessageStatus.SENDING).count() == 9
    outbox.outbox_expire_leases(now=later)
    outbox.outbox_reconcile(now=later)
    run_rounds([Worker(set(), set()) for _ in range(3)], later)

    assert set(Message.objects.values_list("status", flat=True)) == {MessageStatus.SENT}
    per_key = provider.per_idempotency_key()
    assert sorted(per_key) == sorted(m.idempotency_key for m in messages)
    assert set(per_key.values()) == {1}


def test_two_dispatchers_never_claim_the_same_row(provider, open_location):
    customer = factories.make_customer(home_location=open_location)
    for i in range(10):
        services.message_schedule(customer=customer, purpose=Purpose.TRANSACTIONAL, actor=STAFF,
                                  channel=Channel.SMS, text=f"n{i}")
    first = outbox.outbox_claim(limit=6)
    second = outbox.outbox_claim(limit=6)
    assert len(first) == 6 and len(second) == 4
    assert not {m.pk for m in first} & {m.pk for m in second}

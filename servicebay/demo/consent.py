"""Consent for the demo customers, as a shop importing its existing opt-ins would record it.

Every customer with an address has transactional consent on it; a deterministic share has opted in
to marketing (more by email than by SMS), so journeys, segments and exports have real audiences.
"""

from __future__ import annotations

import random

from django.db import transaction
from django.db.models import QuerySet

from servicebay.messaging.choices import Channel, ConsentSource, Purpose
from servicebay.messaging.models import ConsentRecord
from servicebay.shop.models import Customer

MARKETING_SHARE = {Channel.EMAIL: 0.6, Channel.SMS: 0.4}
BATCH = 2000


def _records(customer: dict, rng: random.Random) -> list[ConsentRecord]:
    records = []
    for channel, address in ((Channel.EMAIL, customer["email"]), (Channel.SMS, customer["phone"])):
        if not address:
            continue
        purposes = [Purpose.TRANSACTIONAL]
        if rng.random() < MARKETING_SHARE[channel]:
            purposes.append(Purpose.MARKETING)
        records += [
            ConsentRecord(
                customer_id=customer["id"], channel=channel, purpose=purpose, granted=True,
                source=ConsentSource.IMPORT, address=address, actor="demo:seed",
                note="imported with the customer list", recorded_at=customer["created_at"],
            )
            for purpose in purposes
        ]
    return records


def demo_consent_import(*, seed: int, customers: QuerySet[Customer] | None = None,
                        progress=None) -> int:
    """Record the imported consent of every customer in id order; returns the rows written."""
    rng = random.Random(f"consent:{seed}")
    rows = (customers or Customer.objects.all()).order_by("id").values(
        "id", "email", "phone", "created_at"
    )
    written, batch, seen = 0, [], 0
    for customer in rows.iterator(chunk_size=BATCH):
        batch += _records(customer, rng)
        seen += 1
        if seen % BATCH == 0:
            written += _flush(batch)
            batch = []
            if progress:
                progress(BATCH)
    written += _flush(batch)
    if progress and seen % BATCH:
        progress(seen % BATCH)
    return written


def _flush(batch: list[ConsentRecord]) -> int:
    with transaction.atomic():
        ConsentRecord.objects.bulk_create(batch, batch_size=1000)
    return len(batch)

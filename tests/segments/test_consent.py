"""The set-based consent condition says exactly what messaging's can_contact says."""

from datetime import timedelta

import pytest

from servicebay.messaging.consent import can_contact
from servicebay.segments.consent import contactable_q
from servicebay.shop.models import Customer

pytestmark = pytest.mark.django_db

CHANNELS = ("email", "sms", "whatsapp")
PURPOSES = ("transactional", "marketing")


@pytest.mark.parametrize("days_ago", [0, 1, 365])
def test_contactable_set_equals_can_contact_for_every_customer(population, days_ago):
    at = population.now - timedelta(days=days_ago)
    customers = list(Customer.objects.all())
    for channel in CHANNELS:
        for purpose in PURPOSES:
            allowed = set(Customer.objects.filter(contactable_q(channel=channel, purpose=purpose, at=at))
                          .values_list("pk", flat=True))
            for customer in customers:
                decision = can_contact(customer, channel, purpose, at)
                assert (customer.pk in allowed) == decision.allowed, (
                    customer.first_name, channel, purpose, decision.reason)


def test_an_opt_out_takes_effect_at_once(population):
    from tests.segments.helpers import consent

    alice = population.people["alice"]
    q = contactable_q(channel="email", purpose="marketing", at=population.now + timedelta(days=1))
    assert Customer.objects.filter(q, pk=alice.pk).exists()
    consent(alice, "email", "marketing", granted=False, source="unsubscribe_link")
    q = contactable_q(channel="email", purpose="marketing", at=population.now + timedelta(days=1))
    assert not Customer.objects.filter(q, pk=alice.pk).exists()

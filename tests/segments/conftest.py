from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from tests import factories
from tests.factories import SYSTEM
from tests.segments.helpers import complete_visit, consent


@dataclass
class Population:
    now: object
    loc_a: object
    loc_b: object
    people: dict

    def ids(self, *names: str) -> set[int]:
        return {self.people[n].pk for n in names}

    @property
    def all_ids(self) -> set[int]:
        return {c.pk for c in self.people.values()}


def build_population() -> Population:
    """Six customers that differ in every way a filter can ask about.

    Loyalty: one point per dollar of labor; gold from 500 points (alice 600, erin 1000 are gold;
    bob and dave 150 each stay bronze; carol and frank never earned).
    """
    from servicebay.loyalty.services import program_create
    from servicebay.messaging.consent import suppression_add

    program_create(actor=SYSTEM, name="Rewards", tiers={"levels": [
        {"code": "bronze", "name": "Bronze", "threshold": 0},
        {"code": "gold", "name": "Gold", "threshold": 500},
    ]})
    now = timezone.now()
    loc_a = factories.make_location(name="Downtown")
    loc_b = factories.make_location(name="Airport")
    days = lambda n: now - timedelta(days=n)  # noqa: E731

    alice = factories.make_customer(first_name="Alice", home_location=loc_a, birthday=date(1980, 3, 14))
    a_car = factories.make_vehicle(alice, make="Toyota", model="Camry", year=2018)
    for n, amount in ((10, "300.00"), (50, "200.00"), (300, "100.00")):
        complete_visit(a_car, amount=amount, location=loc_a, opened_at=days(n))
    consent(alice, "email", "marketing")

    bob = factories.make_customer(first_name="Bob", home_location=loc_b)
    b_car = factories.make_vehicle(bob, make="Honda", model="Civic", year=2010)
    complete_visit(b_car, amount="150.00", location=loc_b, opened_at=days(200))
    consent(bob, "email", "marketing", granted=False)
    consent(bob, "sms", "marketing")

    carol = factories.make_customer(first_name="Carol", birthday=date(1975, 12, 1))
    factories.make_vehicle(carol, make="Ford", model="F-150", year=2021)
    type(carol).objects.filter(pk=carol.pk).update(created_at=days(400))
    carol.refresh_from_db()

    dave = factories.make_customer(first_name="Dave", home_location=loc_a)
    d_car = factories.make_vehicle(dave, make="Toyota", model="Corolla", year=2015)
    complete_visit(d_car, amount="80.00", location=loc_b, opened_at=days(40))
    complete_visit(d_car, amount="70.00", location=loc_a, opened_at=days(120))
    consent(dave, "email", "marketing")
    suppression_add(channel="email", address=dave.email, reason="bounce", actor=SYSTEM)

    erin = factories.make_customer(first_name="Erin", home_location=loc_b, birthday=date(1990, 3, 2))
    e_car = factories.make_vehicle(erin, make="BMW", model="X5", year=2022)
    complete_visit(e_car, amount="1000.00", location=loc_b, opened_at=days(5))
    consent(erin, "sms", "marketing")
    consent(erin, "sms", "marketing", granted=False, source="stop_keyword")

    frank = factories.make_customer(first_name="Frank", email="", home_location=loc_a)
    consent(frank, "email", "marketing")

    people = {"alice": alice, "bob": bob, "carol": carol, "dave": dave, "erin": erin, "frank": frank}
    return Population(now=timezone.now(), loc_a=loc_a, loc_b=loc_b, people=people)


@pytest.fixture(scope="module")
def population(django_db_setup, django_db_blocker) -> Population:
    """Built once per test module inside a transaction that is rolled back afterwards."""
    with django_db_blocker.unblock(), transaction.atomic():
        yield build_population()
        transaction.set_rollback(True)

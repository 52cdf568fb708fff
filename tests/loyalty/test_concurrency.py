"""Many requests at once: the balance row lock keeps the ledger exact (PostgreSQL, real threads)."""

import threading
from collections import Counter

import pytest
from django.db import connection, transaction

from servicebay.loyalty.errors import PointsOverdraw
from servicebay.loyalty.models import CustomerLoyaltyBalance, LoyaltyTransaction
from servicebay.loyalty.services import points_adjust, points_earn_for_job_card, points_redeem
from servicebay.shop.choices import JobCardStatus
from tests import factories

from .conftest import SYSTEM, card_with_lines, ledger_sum, make_program

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs concurrent writers: SQLite runs one write transaction at a time, so there "
               "is no race to lose there (and its in-memory test database is per-connection)",
    ),
]

THREADS = 16


def run_at_once(work, args) -> Counter:
    """Run ``work(arg)`` in one thread per arg, released together; count the outcomes."""
    barrier = threading.Barrier(len(args))
    outcomes: list[str] = []
    errors: list[BaseException] = []

    def worker(arg):
        try:
            barrier.wait()
            outcomes.append(work(arg))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(arg,)) for arg in args]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return Counter(outcomes)


def redeem(card, points=100):
    try:
        points_redeem(job_card=card, points=points, actor=SYSTEM)
    except PointsOverdraw:
        return "overdraw"
    return "redeemed"


def test_redeem_never_overdraws_under_concurrency():
    program = make_program()
    customer = factories.make_customer()
    points_adjust(customer=customer, program=program, points=1000, reason="Welcome", actor=SYSTEM)
    cards = [card_with_lines(customer, ("labor", "100.00")) for _ in range(THREADS)]
    outcomes = run_at_once(redeem, cards)
    assert outcomes == Counter(redeemed=10, overdraw=6)
    balance = CustomerLoyaltyBalance.objects.get(customer=customer)
    assert balance.points_balance == 0 == ledger_sum(balance)
    assert LoyaltyTransaction.objects.filter(type="redeem").count() == 10
    assert sum(card.lines.filter(kind="discount").count() for card in cards) == 10


def test_concurrent_redemptions_on_one_job_card_never_overdraw():
    program = make_program()
    customer = factories.make_customer()
    points_adjust(customer=customer, program=program, points=550, reason="Welcome", actor=SYSTEM)
    card = card_with_lines(customer, ("labor", "100.00"))
    outcomes = run_at_once(redeem, [card] * THREADS)
    assert outcomes == Counter(redeemed=5, overdraw=11)
    balance = CustomerLoyaltyBalance.objects.get(customer=customer)
    assert balance.points_balance == 50 == ledger_sum(balance)
    assert card.lines.filter(kind="discount").count() == 5


def test_concurrent_earn_retries_earn_once():
    customer = factories.make_customer()
    # Completed before the program existed, so no earn yet: every thread races to make it.
    card = card_with_lines(customer, ("labor", "80.00"), status=JobCardStatus.COMPLETED)
    program = make_program()

    def retry(_):
        with transaction.atomic():
            return "earned" if points_earn_for_job_card(job_card=card, actor=SYSTEM) else "no-op"

    assert run_at_once(retry, range(8)) == Counter({"earned": 1, "no-op": 7})
    balance = CustomerLoyaltyBalance.objects.get(customer=customer, program=program)
    assert balance.transactions.filter(type="earn").count() == 1
    assert balance.points_balance == 80


def test_concurrent_first_credits_enrol_the_customer_once():
    program = make_program()
    customer = factories.make_customer()

    def credit(i):
        points_adjust(customer=customer, program=program, points=10, reason=f"Bonus {i}", actor=SYSTEM)
        return "credited"

    assert run_at_once(credit, range(8)) == Counter(credited=8)
    balance = CustomerLoyaltyBalance.objects.get(customer=customer, program=program)
    assert balance.points_balance == 80 == ledger_sum(balance)


def test_concurrent_credits_in_two_programs_keep_the_customer_stats_exact():
    from servicebay.segments.models import CustomerStats

    customer = factories.make_customer()
    programs = [make_program(currency="USD"), make_program(currency="EUR")]

    def credit(i):
        points_adjust(customer=customer, program=programs[i % 2], points=10 + i % 2,
                      reason=f"Bonus {i}", actor=SYSTEM)
        return "credited"

    assert run_at_once(credit, range(THREADS)) == Counter(credited=THREADS)
    # Each credit recomputes the sum over both balances; one computed from a stale read of the
    # other program's balance would leave the stats short of the ledger.
    stats = CustomerStats.objects.get(customer=customer)
    assert stats.loyalty_points == 8 * 10 + 8 * 11 == sum(
        CustomerLoyaltyBalance.objects.filter(customer=customer).values_list("points_balance", flat=True)
    )

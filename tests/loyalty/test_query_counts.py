"""Statements one earn and one redemption run inside their transaction (the benchmark's hot paths).

Every statement here runs under the balance lock — on SQLite under the database's one write lock —
so a new one shows up as lost throughput in ``bench/bench_loyalty.py``. Savepoints are left out of
the count (the test's own transaction turns every ``atomic`` into one).
"""

from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from servicebay.activity.models import Event
from servicebay.loyalty.models import LoyaltyTransaction
from servicebay.loyalty.services import points_adjust, points_earn_for_job_card, points_redeem
from servicebay.segments.models import CustomerStats
from servicebay.shop.choices import JobCardStatus
from servicebay.shop.models import JobCard

from .conftest import SYSTEM, balance_of, card_with_lines, ledger_sum

# On PostgreSQL ``activity.record`` re-reads the event's transaction id and the stats refresh
# locks the customer's stats row before its UPDATE: one statement more each.
PG_EXTRA = 2


def _statements(captured: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in captured.captured_queries
            if not q["sql"].upper().startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT"))]


def _extra() -> int:
    return PG_EXTRA if connection.vendor == "postgresql" else 0


def _completed_card_without_earn(customer):
    """A completed card whose earn has not run yet, read fresh (its location not loaded), as the
    shop's transition hands it to the receiver."""
    card = card_with_lines(customer, ("labor", "120.00"))
    JobCard.objects.filter(pk=card.pk).update(status=JobCardStatus.COMPLETED)
    return JobCard.objects.get(pk=card.pk)


def test_an_earn_runs_seven_statements_and_a_retry_two(program, customer):
    card_with_lines(customer, ("labor", "80.00"), status=JobCardStatus.COMPLETED)  # enrols
    card = _completed_card_without_earn(customer)

    with CaptureQueriesContext(connection) as captured, transaction.atomic():
        row = points_earn_for_job_card(job_card=card, actor=SYSTEM)
    # lock the balance (with program, rules and the location's currency), was it earned, the
    # lines, insert the row, the event, move the balance, the customer's stats.
    assert len(_statements(captured)) <= 7 + _extra(), "\n".join(_statements(captured))
    assert row is not None and row.points == 120
    balance = balance_of(customer, program)
    assert balance.points_balance == ledger_sum(balance) == 200
    assert Event.objects.filter(kind="loyalty.earned", subject_id=row.pk).exists()
    assert CustomerStats.objects.get(customer=customer).loyalty_points == 200

    with CaptureQueriesContext(connection) as captured, transaction.atomic():
        again = points_earn_for_job_card(job_card=card, actor=SYSTEM)
    assert again is None
    assert len(_statements(captured)) <= 2, "\n".join(_statements(captured))
    assert LoyaltyTransaction.objects.filter(balance=balance).count() == 2


def test_a_redemption_runs_no_more_statements_than_it_needs(program, customer):
    points_adjust(customer=customer, program=program, points=1000, reason="Welcome", actor=SYSTEM)
    card = card_with_lines(customer, ("labor", "100.00"))

    with CaptureQueriesContext(connection) as captured:
        row = points_redeem(job_card=card, points=500, actor=SYSTEM)
    statements = _statements(captured)
    ours = [sql for sql in statements if "loyalty_" in sql or "segments_" in sql or "activity_" in sql]
    # On the ledger's tables: lock the balance, standing redemptions, insert the row, the event,
    # move the balance, the stats. Besides those, loyalty locks the card and reads its customer
    # lines; the rest is the shop adding the discount line (validation, totals, the visit).
    assert len(ours) <= 6 + _extra(), "\n".join(ours)
    assert len(statements) <= 18 + _extra(), "\n".join(statements)
    balance = balance_of(customer, program)
    assert (row.points, balance.points_balance, ledger_sum(balance)) == (-500, 500, 500)
    assert CustomerStats.objects.get(customer=customer).loyalty_points == 500

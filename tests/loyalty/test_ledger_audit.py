"""The ledger is append-only and every balance equals its ledger sum — and both are checked."""

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, IntegrityError, connection, transaction

from servicebay.loyalty.errors import LedgerIsAppendOnly
from servicebay.loyalty.models import CustomerLoyaltyBalance, LoyaltyRuleVersion, LoyaltyTransaction
from servicebay.loyalty.services import points_adjust

from .conftest import SYSTEM, make_program

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the triggers exist on PostgreSQL only"
)


@pytest.fixture
def row(program, customer):
    return points_adjust(customer=customer, program=program, points=100, reason="Welcome", actor=SYSTEM)


def test_saving_an_existing_ledger_row_is_refused(row):
    row.points = 1_000_000
    with pytest.raises(LedgerIsAppendOnly):
        row.save()


def test_deleting_a_ledger_row_is_refused(row):
    with pytest.raises(LedgerIsAppendOnly):
        row.delete()


def test_queryset_update_and_delete_are_refused(row):
    with pytest.raises(LedgerIsAppendOnly):
        LoyaltyTransaction.objects.filter(pk=row.pk).update(points=5)
    with pytest.raises(LedgerIsAppendOnly):
        LoyaltyTransaction.objects.filter(pk=row.pk).delete()
    with pytest.raises(LedgerIsAppendOnly):
        LoyaltyTransaction.objects.bulk_update([row], ["points"])
    assert LoyaltyTransaction.objects.get(pk=row.pk).points == 100


def test_rule_versions_are_immutable(program):
    version = program.current_version
    version.accrual_rule = {"points_per_unit": "100"}
    with pytest.raises(LedgerIsAppendOnly):
        version.save()
    with pytest.raises(LedgerIsAppendOnly):
        LoyaltyRuleVersion.objects.filter(pk=version.pk).delete()


@postgres_only
def test_raw_sql_update_of_a_ledger_row_fails_on_postgres(row):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cur:
        cur.execute("UPDATE loyalty_loyaltytransaction SET points = 5 WHERE id = %s", [row.pk])


@postgres_only
def test_raw_sql_delete_of_a_ledger_row_fails_on_postgres(row):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cur:
        cur.execute("DELETE FROM loyalty_loyaltytransaction WHERE id = %s", [row.pk])


@postgres_only
def test_raw_sql_update_of_a_rule_version_fails_on_postgres(program):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cur:
        cur.execute("UPDATE loyalty_loyaltyruleversion SET number = 9 WHERE id = %s",
                    [program.current_version_id])


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_commit_with_a_drifted_balance_fails_on_postgres():
    from tests import factories

    program = make_program()
    customer = factories.make_customer()
    points_adjust(customer=customer, program=program, points=100, reason="Welcome", actor=SYSTEM)
    balance = CustomerLoyaltyBalance.objects.get(customer=customer)
    with pytest.raises(IntegrityError, match="ledger sums to 100"), transaction.atomic():
        CustomerLoyaltyBalance.objects.filter(pk=balance.pk).update(points_balance=150)
    balance.refresh_from_db()
    assert balance.points_balance == 100


def _raw(sql: str, params=()) -> None:
    with connection.cursor() as cur:
        cur.execute(sql, params)


@pytest.fixture
def undo_drift():
    """Put balances back after a test manufactured drift, so PostgreSQL's deferred check (run by
    the test teardown) does not fail the test for what it did on purpose."""
    undo: list[tuple[str, list]] = []
    yield undo.append
    for sql, params in undo:
        _raw(sql, params)


def test_verify_passes_when_balances_match(row):
    call_command("loyalty", "verify")


def test_verify_exits_non_zero_with_one_line_per_drift(program, customer, undo_drift):
    from io import StringIO

    from tests import factories

    other = factories.make_customer()
    for who in (customer, other):
        points_adjust(customer=who, program=program, points=100, reason="Welcome", actor=SYSTEM)
    _raw("UPDATE loyalty_customerloyaltybalance SET points_balance = points_balance + 7")
    undo_drift(("UPDATE loyalty_customerloyaltybalance SET points_balance = points_balance - 7", []))
    err = StringIO()
    with pytest.raises(CommandError) as exc:
        call_command("loyalty", "verify", stderr=err)
    assert exc.value.returncode == 1
    lines = err.getvalue().strip().splitlines()
    assert len(lines) == 2
    assert all("stored 107, ledger sum 100, drift +7" in line for line in lines)


def test_verify_finds_a_balance_whose_ledger_is_empty(program, customer, undo_drift):
    _raw(
            "INSERT INTO loyalty_customerloyaltybalance (customer_id, program_id, points_balance, "
            "points_owed, lifetime_points, tier, last_updated_at, created_at) "
            "VALUES (%s, %s, 5, 0, 0, '', %s, %s)",
            [customer.pk, program.pk, "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z"],
    )
    undo_drift(("DELETE FROM loyalty_customerloyaltybalance WHERE customer_id = %s", [customer.pk]))
    with pytest.raises(CommandError):
        call_command("loyalty", "verify")

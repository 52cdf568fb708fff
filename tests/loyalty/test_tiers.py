from datetime import timedelta
from io import StringIO

from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from servicebay.activity.models import Event
from servicebay.loyalty.selectors import loyalty_summary
from servicebay.loyalty.services import points_earn_for_job_card, program_update, tiers_refresh
from servicebay.loyalty.tasks import loyalty_tiers_refresh
from servicebay.shop.choices import JobCardStatus
from tests import factories

from .conftest import SYSTEM, TIERS, balance_of, card_with_lines, make_program

ROLLING = {**TIERS, "basis": "rolling_12_months", "downgrade": True}


def test_rolling_year_counts_only_the_last_twelve_months(customer):
    customer_card = card_with_lines(customer, ("labor", "400.00"), status=JobCardStatus.COMPLETED)
    program = make_program(tiers=ROLLING)
    long_ago = timezone.now() - timedelta(days=400)
    with transaction.atomic():
        points_earn_for_job_card(job_card=customer_card, actor=SYSTEM, now=long_ago)
    card_with_lines(customer, ("labor", "300.00"), status=JobCardStatus.COMPLETED)
    balance = balance_of(customer, program)
    assert (balance.lifetime_points, balance.tier) == (700, "member")  # 300 in the window
    summary = loyalty_summary(customer_id=customer.pk)
    assert (summary.qualifying_points, summary.points_to_next_tier) == (300, 200)


def test_rolling_tiers_fall_when_the_year_moves_on(customer):
    program = make_program(tiers=ROLLING)
    card_with_lines(customer, ("labor", "600.00"), status=JobCardStatus.COMPLETED)
    assert balance_of(customer, program).tier == "silver"
    assert tiers_refresh(program=program, now=timezone.now() + timedelta(days=366)) == 1
    assert balance_of(customer, program).tier == "member"
    assert Event.objects.filter(kind="loyalty.tier_changed", payload__direction="down").count() == 1


def test_periodic_tier_task_leaves_current_members_alone(customer):
    program = make_program(tiers=ROLLING)
    card_with_lines(customer, ("labor", "600.00"), status=JobCardStatus.COMPLETED)
    assert loyalty_tiers_refresh.call() == 0
    assert balance_of(customer, program).tier == "silver"


def test_raising_thresholds_moves_members_when_refreshed(customer, django_capture_on_commit_callbacks):
    program = make_program(tiers={**TIERS, "downgrade": True})
    card_with_lines(customer, ("labor", "600.00"), status=JobCardStatus.COMPLETED)
    levels = [dict(level) for level in TIERS["levels"]]
    levels[1]["threshold"] = 1000
    with django_capture_on_commit_callbacks() as callbacks:
        program_update(program=program, actor=SYSTEM, tiers={**TIERS, "downgrade": True, "levels": levels})
    assert len(callbacks) == 1  # the refresh is queued for after the commit
    out = StringIO()
    call_command("loyalty", "tiers", "--program", str(program.pk), stdout=out)
    assert "1 member(s) changed tier" in out.getvalue()
    assert balance_of(customer, program).tier == "member"


def test_summary_for_a_customer_without_points_shows_the_program_to_join(program):
    customer = factories.make_customer()
    summary = loyalty_summary(customer_id=customer.pk)
    assert (summary.is_member, summary.points_balance, summary.tier, summary.next_tier) == (
        False, 0, "member", "silver")


def test_summary_is_none_without_any_program(customer):
    assert loyalty_summary(customer_id=customer.pk) is None


def test_summary_shows_points_pending_until_cards_are_paid(customer, django_assert_max_num_queries):
    program = make_program(accrual={"award_on": "closed"})
    for amount in ("80.00", "40.00", "10.00"):
        card_with_lines(customer, ("labor", amount), status=JobCardStatus.COMPLETED)
    with django_assert_max_num_queries(6):
        summary = loyalty_summary(customer_id=customer.pk)
    assert (summary.program_id, summary.pending_points, summary.points_balance) == (program.pk, 130, 0)

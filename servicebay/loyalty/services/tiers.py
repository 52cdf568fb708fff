"""Tiers: members move up when their qualifying points reach a threshold (down if configured)."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from servicebay.activity.services import record
from servicebay.core.actors import Actor

from ..models import CustomerLoyaltyBalance, LoyaltyProgram
from ..rules import ProgramRules
from ..selectors import program_rules, qualifying_points
from .posting import balance_save

TIERS_ACTOR = Actor.system("task:loyalty.tiers")


def tier_apply(balance: CustomerLoyaltyBalance, rules: ProgramRules, actor: Actor,
                   now: datetime) -> bool:
    """Move the balance to the tier its qualifying points reach (down only if configured)."""
    tiers = rules.tiers
    if not tiers.levels:
        return False
    points = qualifying_points(balance, rules, now)
    target = tiers.level_for(points)
    if target is None or target.code == balance.tier:
        return False
    current_rank = tiers.rank(balance.tier)
    upgrade = tiers.rank(target.code) > current_rank
    if not upgrade and not tiers.downgrade:
        return False
    previous = tiers.level(balance.tier)
    payload = {
        "program_id": balance.program_id, "program": balance.program.name,
        "from": balance.tier, "from_name": previous.name if previous else "",
        "to": target.code, "to_name": target.name, "direction": "up" if upgrade else "down",
        "qualifying_points": points,
    }
    balance.tier, balance.tier_changed_at = target.code, now
    record(
        "loyalty.tier_changed", actor=actor, customer=balance.customer, subject=balance,
        payload=payload,
        occurred_at=now,
    )
    return True


@transaction.atomic
def tier_evaluate(*, balance_id: int, actor: Actor = TIERS_ACTOR, now: datetime | None = None) -> bool:
    """Re-evaluate one member's tier now (rolling windows move with time; rules change)."""
    now = now or timezone.now()
    balance = CustomerLoyaltyBalance.objects.select_for_update(of=("self",)).select_related(
        "customer", "program__current_version"
    ).get(pk=balance_id)
    changed = tier_apply(balance, program_rules(balance.program), actor, now)
    if changed:
        balance_save(balance)
    return changed


def tiers_refresh(*, program: LoyaltyProgram, actor: Actor = TIERS_ACTOR,
                  now: datetime | None = None, only_above_base: bool = False) -> int:
    """Re-evaluate every member of a program, one short transaction each; returns changes made."""
    now = now or timezone.now()
    rules = program_rules(program)
    qs = CustomerLoyaltyBalance.objects.filter(program=program)
    if only_above_base:
        qs = qs.exclude(tier=rules.tiers.base_code)
    changed = 0
    for balance_id in qs.order_by("pk").values_list("pk", flat=True).iterator(chunk_size=2000):
        changed += tier_evaluate(balance_id=balance_id, actor=actor, now=now)
    return changed

"""Background work of the loyalty app (django-tasks). Each task is safe to run twice at once."""

from __future__ import annotations

from django_tasks import task

from . import selectors, services
from .choices import TierBasis
from .models import LoyaltyProgram


@task()
def loyalty_expire_points() -> int:
    """Expire due points of every balance (FIFO lots, one ledger row per balance). Returns rows."""
    return services.points_expire_due()


@task()
def loyalty_tiers_refresh(program_id: int | None = None) -> int:
    """Re-evaluate tiers: all members of one program (after its tiers changed), or the members a
    rolling year can move down (programs with a rolling basis and downgrades). Returns changes."""
    if program_id is not None:
        program = LoyaltyProgram.objects.select_related("current_version").get(pk=program_id)
        return services.tiers_refresh(program=program)
    changed = 0
    for program in LoyaltyProgram.objects.filter(is_active=True).select_related("current_version"):
        tiers = selectors.program_rules(program).tiers
        if tiers.basis == TierBasis.ROLLING_12_MONTHS and tiers.downgrade:
            changed += services.tiers_refresh(program=program, only_above_base=True)
    return changed

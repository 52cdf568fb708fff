"""Reads of programs and their rules."""

from __future__ import annotations

from django.db.models import Count, QuerySet
from django.shortcuts import get_object_or_404

from ..models import LoyaltyProgram, LoyaltyRuleVersion
from ..rules import ProgramRules, rules_from_json


def program_rules(program: LoyaltyProgram) -> ProgramRules:
    """The program's current rules as models."""
    return rules_from_json(program.current_version.rules_json())


def program_for_currency(currency: str) -> LoyaltyProgram | None:
    """The active program a job card in ``currency`` earns and redeems in."""
    return (
        LoyaltyProgram.objects.select_related("current_version")
        .filter(currency=currency, is_active=True)
        .first()
    )



def program_list(*, active: bool | None = None) -> QuerySet[LoyaltyProgram]:
    """Programs with their current version and member count."""
    qs = LoyaltyProgram.objects.select_related("current_version").annotate(
        members=Count("balances", distinct=True)
    )
    if active is not None:
        qs = qs.filter(is_active=active)
    return qs


def program_get(*, program_id: int) -> LoyaltyProgram:
    """One program with its current version; 404 when unknown."""
    return get_object_or_404(LoyaltyProgram.objects.select_related("current_version"), pk=program_id)


def program_versions(*, program_id: int) -> QuerySet[LoyaltyRuleVersion]:
    return LoyaltyRuleVersion.objects.filter(program_id=program_id).order_by("-number")

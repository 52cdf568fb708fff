"""Programs and their rule versions: every save of changed rules is a new immutable version."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from servicebay.activity.services import record
from servicebay.core.actors import Actor
from servicebay.core.errors import Conflict, DomainError

from ..models import LoyaltyProgram, LoyaltyRuleVersion
from ..rules import ProgramRules, rules_parse

_PROGRAM_FIELDS = ("name", "description", "currency", "is_active")
_RULE_FIELDS = ("accrual_rule", "redemption_rule", "tiers")


def _program_check(program: LoyaltyProgram) -> None:
    program.name = (program.name or "").strip()
    program.currency = (program.currency or "").strip().upper()
    if not program.name:
        raise DomainError("Give the program a name.", field="name")
    if len(program.name) > 120:
        raise DomainError("A program name can be at most 120 characters.", field="name")
    if len(program.currency) != 3 or not program.currency.isalpha():
        raise DomainError("Give the currency as a three-letter ISO code, e.g. USD.", field="currency")
    if LoyaltyProgram.objects.filter(name__iexact=program.name).exclude(pk=program.pk).exists():
        raise DomainError("Another program has this name.", field="name")
    if program.is_active and (
        LoyaltyProgram.objects.filter(currency=program.currency, is_active=True)
        .exclude(pk=program.pk)
        .exists()
    ):
        raise Conflict(
            f"Another active program already covers {program.currency}; a job card earns in one "
            "program only. Deactivate that one first.",
            field="is_active",
        )


def _version_add(program: LoyaltyProgram, rules: ProgramRules, actor: Actor) -> LoyaltyRuleVersion:
    last = program.versions.order_by("-number").values_list("number", flat=True).first() or 0
    data = rules.as_json()
    version = LoyaltyRuleVersion.objects.create(
        program=program, number=last + 1, created_by=actor.label, created_by_user=actor.user, **data
    )
    for name, value in data.items():
        setattr(program, name, value)
    program.current_version = version
    return version


@transaction.atomic
def program_create(
    *,
    actor: Actor,
    name: str,
    description: str = "",
    currency: str = "USD",
    accrual_rule: dict[str, Any] | None = None,
    redemption_rule: dict[str, Any] | None = None,
    tiers: dict[str, Any] | None = None,
    is_active: bool = True,
) -> LoyaltyProgram:
    """Create a program with validated rules as its version 1."""
    rules = rules_parse(accrual_rule=accrual_rule, redemption_rule=redemption_rule, tiers=tiers)
    program = LoyaltyProgram(name=name, description=(description or "").strip(),
                             currency=currency, is_active=is_active)
    _program_check(program)
    try:
        with transaction.atomic():
            program.save()
    except IntegrityError as exc:
        raise Conflict("Another program has this name or covers this currency.", field="name") from exc
    _version_add(program, rules, actor)
    program.save(update_fields=[*_RULE_FIELDS, "current_version", "updated_at"])
    record("loyalty.program_created", actor=actor, subject=program,
           payload={"name": program.name, "version": 1})
    return program


@transaction.atomic
def program_update(*, program: LoyaltyProgram, actor: Actor, **fields: Any) -> LoyaltyProgram:
    """Change a program; changed rules become a new immutable version (old rows keep theirs)."""
    unknown = set(fields) - set(_PROGRAM_FIELDS) - set(_RULE_FIELDS)
    if unknown:
        raise DomainError(f"Unknown field(s): {', '.join(sorted(unknown))}.", field=sorted(unknown)[0])
    program = LoyaltyProgram.objects.select_for_update().get(pk=program.pk)
    rules = None
    if any(name in fields for name in _RULE_FIELDS):
        rules = rules_parse(**{name: fields.get(name, getattr(program, name)) for name in _RULE_FIELDS})
    if "currency" in fields and fields["currency"].strip().upper() != program.currency and (
        program.balances.exists()
    ):
        raise Conflict("Members already hold points in this currency; start a new program instead.",
                       field="currency")
    for name in _PROGRAM_FIELDS:
        if name in fields:
            setattr(program, name, fields[name])
    _program_check(program)
    previous_tiers = program.tiers
    version = None
    if rules is not None and rules.as_json() != program.current_version.rules_json():
        version = _version_add(program, rules, actor)
    try:
        with transaction.atomic():
            program.save()
    except IntegrityError as exc:
        raise Conflict("Another program has this name or covers this currency.", field="name") from exc
    record("loyalty.program_updated", actor=actor, subject=program,
           payload={"name": program.name, "version": program.current_version.number,
                    "new_version": version is not None})
    if version is not None and version.tiers != previous_tiers:
        from ..tasks import loyalty_tiers_refresh  # the tasks module imports the services

        transaction.on_commit(lambda: loyalty_tiers_refresh.enqueue(program_id=program.pk), robust=True)
    return program

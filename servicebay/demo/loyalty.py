"""The demo's loyalty programme and each member's points history, as the loyalty services write it.

One active programme per currency the demo shops use ("ServiceBay Rewards"), created before the
history starts. While the generator makes a customer, it notes the job cards that were completed;
when the customer is done, ``LedgerPlayer`` replays that history in time order per programme, the
way the loyalty receivers and tasks would have seen it:

- an earn on each completed card (``accrual_compute`` on the card's lines, at completion),
- now and then a redemption just before completion: a "Loyalty reward" discount line on the card
  (whose totals, visit spend and completion events are patched to include it) and a redeem row,
- expiry of unspent lots when their date comes (FIFO lots, ``loyalty.ledger``),
- a few manual adjustments with a reason,
- tier upgrades by qualifying points, with their events.

Every row goes into the chunk with the id the generator chose, in time order per balance (the
lot replay reads rows in id order), and the balance row carries the sums of its rows.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from django.db import transaction

from servicebay.core.money import quantize_money
from servicebay.loyalty.choices import AwardOn, ReferenceType, Rounding, TierBasis, TransactionType
from servicebay.loyalty.ledger import LedgerRow, Lots
from servicebay.loyalty.models import LoyaltyProgram, LoyaltyRuleVersion
from servicebay.loyalty.rules import (
    LineInput,
    ProgramRules,
    accrual_compute,
    redemption_max_points,
    redemption_value,
    rules_from_json,
    rules_parse,
)
from servicebay.loyalty.services.posting import EVENT_OF, expiry_for
from servicebay.shop.choices import JobLineKind, Payer

if TYPE_CHECKING:
    from .generator import Chunk, HistoryGenerator, ShopLocation

PROGRAM_NAME = "ServiceBay Rewards"
PROGRAM_ACTOR = "system:seed"
EXPIRY_ACTOR = "task:loyalty.expire"  # servicebay.loyalty.services.expiry.EXPIRY_ACTOR
ROLLING_WINDOW = timedelta(days=365)  # servicebay.loyalty.selectors.ledger.ROLLING_WINDOW
DEMO_RULES = {
    "accrual_rule": {
        "points_per_unit": "1", "eligible_kinds": ["labor", "part"], "subtract_discounts": True,
        "rounding": "down", "award_on": "completed", "expire_after_months": 24,
    },
    "redemption_rule": {
        "value_per_point": "0.05", "minimum_points": 200, "step": 50, "max_invoice_share": "0.5",
    },
    "tiers": {
        "basis": "lifetime", "downgrade": False,
        "levels": [
            {"code": "member", "name": "Member", "threshold": 0},
            {"code": "silver", "name": "Silver", "threshold": 1500},
            {"code": "gold", "name": "Gold", "threshold": 4000},
        ],
    },
}
REDEEM_CHANCE = 0.3  # of a completed card, when the member holds enough points
ADJUST_CHANCE = 0.05  # of a member, once in their history
ADJUSTMENTS = (
    (150, "Goodwill: the car was ready later than promised."),
    (100, "Welcome bonus promised at sign-up, not posted at the time."),
    (250, "Goodwill after a repeat repair on the same job."),
    (75, "Referred a friend who booked a service."),
    (-100, "Correction: points posted twice for one visit."),
    (-50, "Correction: bonus applied to the wrong member."),
)

BALANCE_FIELDS = (
    "id", "customer_id", "program_id", "points_balance", "points_owed", "lifetime_points", "tier",
    "tier_changed_at", "next_expiry_at", "last_updated_at", "created_at",
)
TRANSACTION_FIELDS = (
    "id", "balance_id", "type", "points", "balance_after", "reference_type", "reference_id",
    "job_line_id", "notes", "rule_version_id", "reverses_id", "expires_at", "idempotency_key",
    "details", "created_at", "created_by", "created_by_user_id",
)


@dataclass(frozen=True)
class Programme:
    """An active programme as the generator needs it (picklable, no ORM)."""

    id: int
    version_id: int
    name: str
    currency: str
    rules: ProgramRules
    created_at: datetime | None = None  # naive UTC, when this seed created the programme

    @property
    def payload_part(self) -> str:
        return f'"program_id": {self.id}, "program": {json.dumps(self.name)}'


@transaction.atomic
def programmes_ensure(currencies: list[str], created_at: datetime) -> dict[str, Programme]:
    """The active programme of each currency; one is created (backdated) where none is active.

    Created as ``program_create`` would (validated rules, version 1), dated before the history so
    every seeded ledger row can point at version 1; ``LedgerPlayer.opening`` writes its event with
    the first chunk (a restore-style load must find no pending foreign-key checks on the events).
    """
    found: dict[str, Programme] = {}
    for currency in sorted(set(currencies)):
        program = (LoyaltyProgram.objects.select_related("current_version")
                   .filter(currency=currency, is_active=True).first())
        if program is None:
            rules = rules_parse(**DEMO_RULES)
            name = PROGRAM_NAME if currency == "USD" else f"{PROGRAM_NAME} {currency}"
            # Ids chosen like the seed's other rows (the sequences move past them at the end), so
            # the same seed gives the same ids whatever a sequence handed out before.
            program = LoyaltyProgram.objects.create(
                id=_next_id(LoyaltyProgram), name=name, currency=currency, created_at=created_at,
                description="Earn a point per currency unit on labor and parts; points last two years.",
                **rules.as_json(),
            )
            version = LoyaltyRuleVersion.objects.create(
                id=_next_id(LoyaltyRuleVersion), program=program, number=1, created_at=created_at, created_by=PROGRAM_ACTOR,
                **rules.as_json(),
            )
            program.current_version = version
            # ``update`` leaves ``updated_at`` alone (auto_now): the programme is as old as its rules.
            LoyaltyProgram.objects.filter(pk=program.pk).update(current_version=version, updated_at=created_at)
            fresh = created_at.astimezone(UTC).replace(tzinfo=None)
        else:
            fresh = None
        found[currency] = Programme(
            id=program.pk, version_id=program.current_version_id, name=program.name,
            currency=currency, rules=rules_from_json(program.current_version.rules_json()),
            created_at=fresh,
        )
    return found


def _next_id(model) -> int:
    from django.db.models import Max

    return (model.objects.aggregate(top=Max("pk"))["top"] or 0) + 1


@dataclass
class CardSeen:
    """A completed job card of the customer being generated, and where its rows sit in the chunk."""

    jid: int
    loc: ShopLocation
    number: int
    advisor: int | None
    completed: datetime
    closed: datetime | None
    lines: list[tuple]
    card_index: int
    visit_index: int
    events: range


@dataclass
class _Member:
    """One balance being replayed."""

    id: int
    programme: Programme
    created: datetime
    points: int = 0
    lifetime: int = 0
    tier: str = ""
    tier_changed: datetime | None = None
    next_expiry: datetime | None = None
    updated: datetime | None = None
    lots: Lots = field(default_factory=Lots)
    earns: list[tuple[datetime, int]] = field(default_factory=list)


ACCRUAL_CACHE_SIZE = 100_000


@dataclass(frozen=True)
class _Award:
    """What ``accrual_compute`` gives for one card: the points, the eligible spend, and each
    line's explanation as JSON text after its id (``"kind": …}``)."""

    points: int
    eligible_spend: str
    line_tails: tuple[str, ...]


_ROUNDING = {Rounding.DOWN: ROUND_FLOOR, Rounding.NEAREST: ROUND_HALF_UP, Rounding.UP: ROUND_CEILING}


def _tail(line: LineInput) -> str:
    """A line's explanation as JSON text after its id: ``"kind": …}``."""
    data = line.as_json()
    del data["line_id"]
    return json.dumps(data)[1:]


class LedgerPlayer:
    """Replays one customer's completed cards into balances, ledger rows and events."""

    def __init__(self, gen: HistoryGenerator, seed: int) -> None:
        self.gen = gen
        self.rng = random.Random(f"loyalty:{seed}")
        self.categories = {t.id: t.spec.category for t in gen.world.templates.values()}
        # Cards repeat the same services at the same shop: each line's award is computed once.
        self._line_awards: dict[tuple, tuple[Decimal, Decimal, str, LineInput]] = {}

    def _award(self, rules: ProgramRules, card: CardSeen, tier: str) -> _Award:
        """``accrual_compute`` on a card's lines (as ``job_card_line_inputs`` reads them).

        With no customer discount on the card every line earns on its own, so the award is the
        sum of cached line awards; a discount shrinks every line, so those cards go through
        ``accrual_compute`` itself. Either way the lines' explanations come from the cache."""
        rule = rules.accrual
        loc_id = card.loc.id
        found = [self._line_award(rule, loc_id, row) for row in card.lines]
        tails = tuple(f[2] for f in found)
        if rule.subtract_discounts and any(f[3].kind == JobLineKind.DISCOUNT and f[3].payer == Payer.CUSTOMER
                                           for f in found):
            accrual = accrual_compute(rule, [f[3] for f in found], tier_code=tier)
            return _Award(accrual.points, str(accrual.eligible_spend), tails)
        spend = sum((f[0] for f in found), Decimal("0"))
        points = sum((f[1] for f in found), Decimal("0")) * rule.tier_multipliers.get(tier, Decimal("1"))
        awarded = 0 if spend < rule.minimum_spend else max(
            int(points.to_integral_value(rounding=_ROUNDING[rule.rounding])), 0)
        return _Award(awarded, str(spend), tails)

    def _line_award(self, rule, loc_id: int, row: tuple) -> tuple[Decimal, Decimal, str, LineInput]:
        """(eligible spend and unrounded points when no discount shrinks it, explanation tail, the
        line as accrual reads it) of one line; cached by shop, kind, description and payer (at one
        shop those fix the price, tax rate and category)."""
        from .generator import _amounts

        key = (id(rule), loc_id, row[3], row[4], row[10])
        found = self._line_awards.get(key)
        if found is None:
            net, _tax = _amounts(row[3], row[7], row[8], row[9])
            category = self.categories.get(row[5], "") if row[5] is not None else ""
            line = LineInput(line_id=None, kind=row[3], description=row[4], category=category,
                             payer=row[10], net=net)
            spend = points = Decimal("0")
            if line.kind != JobLineKind.DISCOUNT and line.payer == Payer.CUSTOMER and (
                line.kind in rule.eligible_kinds
            ):
                spend = quantize_money(net)
                points = spend * rule.points_per_unit * rule.category_multipliers.get(category, Decimal("1"))
            if len(self._line_awards) >= ACCRUAL_CACHE_SIZE:
                self._line_awards.clear()
            found = self._line_awards[key] = (spend, points, _tail(line), line)
        return found

    def opening(self, chunk: Chunk) -> None:
        """The ``loyalty.program_created`` events of the programmes this seed created."""
        for programme in sorted(self.gen.world.loyalty.values(), key=lambda p: p.id):
            if programme.created_at is not None:
                self.gen._event(chunk, "loyalty.program_created", None, "loyalty.loyaltyprogram",
                                programme.id, None, programme.created_at,
                                {"name": programme.name, "version": 1}, label=PROGRAM_ACTOR)

    def play(self, chunk: Chunk, cid: int, cards: list[CardSeen]) -> None:
        by_programme: dict[str, list[CardSeen]] = {}
        for card in cards:
            if card.loc.city.currency in self.gen.world.loyalty:
                by_programme.setdefault(card.loc.city.currency, []).append(card)
        for currency in sorted(by_programme):
            self._member(chunk, cid, self.gen.world.loyalty[currency], by_programme[currency])

    # --- one balance ------------------------------------------------------------------------

    def _member(self, chunk: Chunk, cid: int, programme: Programme, cards: list[CardSeen]) -> None:
        rules, rng, as_of = programme.rules, self.rng, self.gen.as_of
        award_closed = rules.accrual.award_on == AwardOn.CLOSED
        steps: list[tuple[datetime, int, int, str, CardSeen | None]] = []
        for index, card in enumerate(sorted(cards, key=lambda c: (c.completed, c.jid))):
            at = card.closed if award_closed else card.completed
            if at is None:
                continue
            # A redemption happens while the card is still open, a few minutes before completion.
            redeem_at = card.completed - timedelta(minutes=rng.randint(1, 9))
            steps.append((redeem_at, index, 0, "redeem", card))
            steps.append((at, index, 1, "earn", card))
        if not steps:
            return
        steps.sort(key=lambda s: (s[0], s[1], s[2]))
        first = next(s[0] for s in steps if s[3] == "earn")
        if rng.random() < ADJUST_CHANCE and as_of > first:
            at = first + timedelta(seconds=rng.randrange(int((as_of - first).total_seconds())))
            steps.append((at, len(steps), 2, "adjust", None))
            steps.sort(key=lambda s: (s[0], s[1], s[2]))
        balance_id = self.gen.world.take_id("loyalty_balance")
        member = _Member(balance_id, programme, first, tier=rules.tiers.base_code, updated=first)
        for at, _index, _order, kind, card in steps:
            if kind == "redeem" and at < first:
                continue  # not enrolled yet
            self._expire(chunk, cid, member, at)
            if kind == "earn":
                self._earn(chunk, cid, member, card, at)
            elif kind == "redeem":
                self._redeem(chunk, cid, member, card, at)
            else:
                self._adjust(chunk, cid, member, at)
        self._expire(chunk, cid, member, as_of)
        chunk.rows["loyalty_balance"].append((
            balance_id, cid, programme.id, member.points, 0, member.lifetime, member.tier,
            member.tier_changed, member.next_expiry, member.updated, member.created,
        ))

    def _row(self, chunk: Chunk, cid: int, member: _Member, kind: str, points: int, at: datetime,
             *, user_id: int | None, label: str | None = None, reference_type: str = "",
             reference_id: str = "", job_line_id: int | None = None, notes: str = "",
             expires_at: datetime | None = None, key: str | None = None,
             details: dict | str | None = None, job_card_number: str | None = None) -> int:
        """``post_row``: append a row, move the balance, record the event. ``details`` may be
        JSON text already (then pass the ``job_card_number`` it holds, for the event)."""
        world = self.gen.world
        row_id = world.take_id("loyalty_transaction")
        after = member.points + points
        assert after >= 0, (member.id, kind, points)
        if label is None:
            label = "system:seed" if user_id is None else f"user:{user_id}"
        if not isinstance(details, str):
            details = details or {}
            job_card_number = details.get("job_card_number", job_card_number)
            details = json.dumps(details)
        chunk.rows["loyalty_transaction"].append((
            row_id, member.id, kind, points, after, reference_type, reference_id, job_line_id, notes,
            member.programme.version_id, None, expires_at, key, details, at, label, user_id,
        ))
        member.points, member.updated = after, at
        if expires_at is not None and (member.next_expiry is None or expires_at < member.next_expiry):
            member.next_expiry = expires_at
        member.lots.apply(LedgerRow(row_id, kind, points, at, expires_at))
        # As json.dumps renders ``post_row``'s payload; the programme's part is rendered once.
        tail = f', "job_card_number": "{job_card_number}"}}' if job_card_number is not None else "}"
        payload = (f'{{"transaction_id": {row_id}, "points": {points}, "balance": {after}, '
                   f'{member.programme.payload_part}, "reference_type": "{reference_type}", '
                   f'"reference_id": "{reference_id}"{tail}')
        self.gen._event(chunk, EVENT_OF[TransactionType(kind)], cid, "loyalty.loyaltytransaction",
                        row_id, user_id, at, payload, label=label)
        return row_id

    def _expire(self, chunk: Chunk, cid: int, member: _Member, until: datetime) -> None:
        """The expiry task, run whenever a balance's next expiry date has come (up to ``until``)."""
        while member.next_expiry is not None and member.next_expiry <= until:
            now = member.next_expiry
            due = member.lots.due(now)
            total = sum(lot.remaining for lot in due)
            if total:
                self._row(
                    chunk, cid, member, TransactionType.EXPIRE, -total, now, user_id=None,
                    label=EXPIRY_ACTOR, reference_type=ReferenceType.EXPIRY,
                    reference_id=now.date().isoformat(),
                    notes=f"{total:,} points reached their expiry date.",
                    details={"lots": [
                        {"transaction_id": lot.source_id, "points": lot.remaining,
                         "expires_at": lot.expires_at.replace(tzinfo=UTC).isoformat()} for lot in due
                    ]},
                )
            member.next_expiry = member.lots.next_expiry()

    def _earn(self, chunk: Chunk, cid: int, member: _Member, card: CardSeen, at: datetime) -> None:
        rules = member.programme.rules
        award = self._award(rules, card, member.tier)
        if award.points <= 0:
            return
        number = f"JC-{card.loc.id}-{card.number:05d}"
        # The explanation ``points_earn_for_job_card`` keeps, rendered as json.dumps would.
        lines = ", ".join(f'{{"line_id": {row[0]}, {tail}' for row, tail in zip(card.lines, award.line_tails, strict=True))
        details = (f'{{"job_card_number": "{number}", "tier": {json.dumps(member.tier)}, "lines": [{lines}], '
                   f'"eligible_spend": "{award.eligible_spend}", "currency": "{member.programme.currency}"}}')
        self._row(
            chunk, cid, member, TransactionType.EARN, award.points, at, user_id=card.advisor,
            reference_type=ReferenceType.JOB_CARD, reference_id=str(card.jid),
            notes=f"Job card {number}", expires_at=expiry_for(rules, at),
            key=f"earn:{member.id}:{card.jid}:0", details=details, job_card_number=number,
        )
        member.lifetime += award.points
        member.earns.append((at, award.points))
        self._tier(chunk, cid, member, card.advisor, at)

    def _tier(self, chunk: Chunk, cid: int, member: _Member, user_id: int | None, at: datetime) -> None:
        """``tier_apply`` after an earn."""
        tiers = member.programme.rules.tiers
        if not tiers.levels:
            return
        points = member.lifetime
        if tiers.basis == TierBasis.ROLLING_12_MONTHS:
            points = sum(p for when, p in member.earns if when > at - ROLLING_WINDOW)
        target = tiers.level_for(points)
        if target is None or target.code == member.tier:
            return
        upgrade = tiers.rank(target.code) > tiers.rank(member.tier)
        if not upgrade and not tiers.downgrade:
            return
        previous = tiers.level(member.tier)
        self.gen._event(chunk, "loyalty.tier_changed", cid, "loyalty.customerloyaltybalance", member.id,
                        user_id, at, {
                            "program_id": member.programme.id, "program": member.programme.name,
                            "from": member.tier, "from_name": previous.name if previous else "",
                            "to": target.code, "to_name": target.name,
                            "direction": "up" if upgrade else "down", "qualifying_points": points,
                        })
        member.tier, member.tier_changed = target.code, at

    def _redeem(self, chunk: Chunk, cid: int, member: _Member, card: CardSeen, at: datetime) -> None:
        """``points_redeem`` on a card about to be completed: a discount line and a redeem row."""
        from .generator import _amounts

        rule = member.programme.rules.redemption
        if member.points < max(rule.minimum_points, 1) or self.rng.random() >= REDEEM_CHANCE:
            return
        due = Decimal("0")
        for row in card.lines:
            if row[10] == Payer.CUSTOMER:
                net, tax = _amounts(row[3], row[7], row[8], row[9])
                due += net + tax
        cap = max(min(quantize_money(rule.max_invoice_share * due), due), Decimal("0"))
        points = redemption_max_points(rule, available=member.points, cap=cap)
        if points and self.rng.random() < 0.5:
            half = points // 2 - (points // 2) % rule.step
            points = half if half >= max(rule.minimum_points, 1) else points
        if not points:
            return
        value = redemption_value(rule, points)
        line_id = self.gen.world.take_id("job_line")
        position = max(row[2] for row in card.lines) + 1
        line = (line_id, card.jid, position, JobLineKind.DISCOUNT, f"Loyalty reward: {points:,} points",
                None, None, Decimal("1"), value, Decimal("0"), Payer.CUSTOMER, None, at)
        chunk.rows["job_line"].append(line)
        card.lines = [*card.lines, line]
        self._patch_totals(chunk, card, value)
        number = f"JC-{card.loc.id}-{card.number:05d}"
        self._row(
            chunk, cid, member, TransactionType.REDEEM, -points, at, user_id=card.advisor,
            reference_type=ReferenceType.JOB_CARD, reference_id=str(card.jid), job_line_id=line_id,
            notes=f"Discount on job card {number}",
            details={"value": str(value), "value_per_point": str(rule.value_per_point),
                     "currency": member.programme.currency, "job_card_number": number},
        )

    def _patch_totals(self, chunk: Chunk, card: CardSeen, value: Decimal) -> None:
        """The card's discount and total, its visit's spend, and the totals its completion, closing
        and check-out events reported (the start came before the discount, so it keeps its own)."""
        row = chunk.rows["job_card"][card.card_index]
        old_total, new_total = row[13], row[13] - value
        chunk.rows["job_card"][card.card_index] = (*row[:11], row[11] + value, row[12], new_total, *row[14:])
        visit = chunk.rows["visit"][card.visit_index]
        chunk.rows["visit"][card.visit_index] = (*visit[:11], visit[11] - value, *visit[12:])
        events = chunk.rows["event"]
        for i in card.events:
            event = events[i]
            if event[1] in ("jobcard.completed", "jobcard.closed"):
                events[i] = (*event[:8], event[8].replace(f'"total": "{old_total}"', f'"total": "{new_total}"'))
            elif event[1] == "visit.checked_out":
                spend = visit[11]
                events[i] = (*event[:8], event[8].replace(f'"total_spend": "{spend}"',
                                                          f'"total_spend": "{spend - value}"'))

    def _adjust(self, chunk: Chunk, cid: int, member: _Member, at: datetime) -> None:
        """``points_adjust`` by a manager, with the reason on the row."""
        points, reason = self.rng.choice(ADJUSTMENTS)
        if points < 0:
            points = -min(-points, member.points)
            if not points:
                return
        staff = self.gen.world.advisor_ids
        user_id = self.rng.choice(staff) if staff else None
        self._row(
            chunk, cid, member, TransactionType.ADJUSTMENT, points, at, user_id=user_id,
            reference_type=ReferenceType.MANUAL, notes=reason,
            expires_at=expiry_for(member.programme.rules, at) if points > 0 else None,
            details={"reason": reason},
        )


def ledger_sums_check(first_balance_id: int) -> None:
    """Raise unless every balance from ``first_balance_id`` on holds exactly its ledger's sum.

    What the PostgreSQL constraint triggers check row by row, in one grouped query (a hash join,
    so it needs no index: a restore-style load checks before building them).
    """
    from django.db import connection

    from servicebay.loyalty.models import CustomerLoyaltyBalance, LoyaltyTransaction

    balances, ledger = CustomerLoyaltyBalance._meta.db_table, LoyaltyTransaction._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT b.id, b.points_balance, COALESCE(t.total, 0) FROM "{balances}" b '  # noqa: S608 - model tables
            f'LEFT JOIN (SELECT balance_id, SUM(points) AS total FROM "{ledger}" '
            "WHERE balance_id >= %s GROUP BY balance_id) t ON t.balance_id = b.id "
            "WHERE b.id >= %s AND b.points_balance <> COALESCE(t.total, 0) LIMIT 1",
            [first_balance_id, first_balance_id],
        )
        drift = cursor.fetchone()
    if drift is not None:
        raise RuntimeError(f"seeded loyalty balance {drift[0]} holds {drift[1]} points, its ledger {drift[2]}")

"""Loyalty: earn and redeem throughput with 16 concurrent clients, against hand-written SQL doing
the same work (lock the balance row, insert the ledger row, move the balance, record the event;
for a redemption also lock the job card, add the discount line and recompute its totals) — and
proof, in the same run, that no point was lost or double-spent.

Several clients share each customer, so they queue on the same balance rows and many redemptions
run into an empty balance: the run checks afterwards that every balance equals its ledger sum,
that each customer holds exactly what they earned minus what they redeemed, that every successful
redemption has exactly one discount line of the right amount, and that a second earn pass (a
retry of every completion) added nothing.

Each run works on its own customers, job cards and two programs in the test currency XTS
(ServiceBay's and the baseline's), and removes all of it afterwards, so the seeded data set stays
as it was. Ledger rows are append-only, so that cleanup is raw SQL with PostgreSQL's triggers
switched off for its one transaction (``session_replication_role = replica``) — a privilege of the
benchmark, never of the application.
"""

from __future__ import annotations

import json
import multiprocessing
import time
from collections import Counter
from decimal import Decimal

from django.db import connection, connections, transaction
from django.utils import timezone

from bench.core import Context, Result
from servicebay.core.actors import Actor
from servicebay.loyalty import selectors, services
from servicebay.loyalty.errors import PointsOverdraw
from servicebay.loyalty.models import CustomerLoyaltyBalance, LoyaltyProgram, LoyaltyTransaction
from servicebay.shop import services as shop
from servicebay.shop.models import Customer, JobCard, JobLine, Location

CLIENTS = 16  # client processes
CUSTOMERS = 8  # two clients per customer: they contend for the same balance row
EARN_CARDS_PER_CUSTOMER = 24
REDEEMS_PER_CLIENT = 40
REDEEM_POINTS = 50
LABOR = Decimal("125.00")  # earns 125 points a card
CURRENCY = "XTS"  # ISO 4217's code for testing
EARN_RATIO = 3.0
# A redemption is a shop write too: the service adds the discount line through the shop (validated
# like any line), the job card's totals and its visit follow, and segments refresh the customer's
# stats — all inside the same transaction, which the loyalty-only SQL baseline skips.
REDEEM_RATIO = 8.0
ACTOR = Actor.system("bench:loyalty")
RULES = {
    "accrual_rule": {"points_per_unit": "1", "eligible_kinds": ["labor", "part"], "rounding": "down"},
    "redemption_rule": {"value_per_point": "0.01", "minimum_points": 0, "step": 1, "max_invoice_share": "1"},
    "tiers": {"basis": "lifetime", "levels": [{"code": "member", "name": "Member", "threshold": 0},
                                              {"code": "gold", "name": "Gold", "threshold": 2000}]},
}


# --- setup -------------------------------------------------------------------------------------


def _location() -> Location:
    return shop.location_create(name=f"Bench XTS {time.time_ns()}", time_zone="UTC", currency=CURRENCY)


def _retire_programs() -> None:
    for program in LoyaltyProgram.objects.filter(currency=CURRENCY, is_active=True):
        services.program_update(program=program, actor=ACTOR, is_active=False)


def _program(label: str) -> LoyaltyProgram:
    _retire_programs()
    return services.program_create(actor=ACTOR, name=f"Bench {label} {time.time_ns()}",
                                   currency=CURRENCY, **RULES)


def _card(customer: Customer, vehicle, location: Location, *, complete: bool) -> JobCard:
    card = shop.job_card_open(actor=ACTOR, location=location, customer=customer, vehicle=vehicle)
    shop.job_line_add(job_card=card, actor=ACTOR, kind="labor", description="Bench labor",
                      unit_price=LABOR if complete else Decimal("9000.00"))
    card = shop.job_card_transition(job_card=card, to_status="in_progress", actor=ACTOR)
    if complete:
        card = shop.job_card_transition(job_card=card, to_status="completed", actor=ACTOR)
    return card


def _world(location: Location, customer_ids: list[int]):
    """Customers with vehicles, completed cards (no program yet: nothing earned) and open cards."""
    vehicles = []
    for n in range(CUSTOMERS):
        customer = shop.customer_create(actor=ACTOR, first_name="Bench", last_name=f"Loyalty {n}")
        customer_ids.append(customer.pk)
        vehicles.append(shop.vehicle_create(customer=customer, actor=ACTOR, make="Bench",
                                            model="Car", year=2020))
    _retire_programs()
    earn_cards = {v.customer_id: [_card(v.customer, v, location, complete=True)
                                  for _ in range(EARN_CARDS_PER_CUSTOMER)] for v in vehicles}
    redeem_cards = [_card(vehicles[i % CUSTOMERS].customer, vehicles[i % CUSTOMERS], location,
                          complete=False) for i in range(CLIENTS * 2)]
    return vehicles, earn_cards, redeem_cards


# --- running many clients at once --------------------------------------------------------------


def _client(work, batch, barrier, results) -> None:
    """One client process: its own database connection, its share of the jobs."""
    connections.close_all()  # never reuse the parent's connection in a forked child
    try:
        barrier.wait()
        results.put(("ok", Counter(work(job) for job in batch)))
    except BaseException as exc:
        results.put(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        connections.close_all()


def _concurrently(work, jobs: list[list]) -> tuple[float, Counter]:
    """Run ``work(job)`` for each batch in its own process, all released together.

    Processes, not threads: the application's Python runs under one GIL per process, and a shop
    runs several web processes, so threads would measure the GIL, not the database.
    """
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(len(jobs) + 1)
    results = context.Queue()
    connections.close_all()
    processes = [context.Process(target=_client, args=(work, batch, barrier, results)) for batch in jobs]
    for process in processes:
        process.start()
    barrier.wait()
    started = time.perf_counter()
    answers = [results.get() for _ in processes]
    elapsed = time.perf_counter() - started
    for process in processes:
        process.join()
    errors = [detail for status, detail in answers if status == "error"]
    if errors:
        raise RuntimeError(f"{len(errors)} client(s) failed: {errors[0]}")
    outcomes: Counter = Counter()
    for _status, counts in answers:
        outcomes.update(counts)
    return elapsed, outcomes


def _split(items: list, parts: int) -> list[list]:
    return [items[i::parts] for i in range(parts)]


# --- ServiceBay's code path --------------------------------------------------------------------


def _servicebay_earn(card: JobCard) -> str:
    with transaction.atomic():
        return "earned" if services.points_earn_for_job_card(job_card=card, actor=ACTOR) else "no-op"


def _servicebay_redeem(card: JobCard) -> str:
    try:
        services.points_redeem(job_card=card, points=REDEEM_POINTS, actor=ACTOR)
    except PointsOverdraw:
        return "overdraw"
    return "redeemed"


# --- the baseline: the same work in hand-written SQL -------------------------------------------


def _sql(vendor: str):
    lock = " FOR UPDATE" if vendor == "postgresql" else ""
    json_cast = "::jsonb" if vendor == "postgresql" else ""
    return {
        "balance": "SELECT id, points_balance, lifetime_points FROM loyalty_customerloyaltybalance "
                   f"WHERE customer_id = %s AND program_id = %s{lock}",
        "enrol": "INSERT INTO loyalty_customerloyaltybalance (customer_id, program_id, points_balance, "
                 "points_owed, lifetime_points, tier, last_updated_at, created_at) "
                 "VALUES (%s, %s, 0, 0, 0, 'member', %s, %s) ON CONFLICT DO NOTHING",
        "earned": "SELECT 1 FROM loyalty_loyaltytransaction t WHERE t.balance_id = %s AND t.type = 'earn' "
                  "AND t.reference_type = 'shop.jobcard' AND t.reference_id = %s AND NOT EXISTS "
                  "(SELECT 1 FROM loyalty_loyaltytransaction r WHERE r.reverses_id = t.id)",
        "lines": "SELECT kind, quantity, unit_price, tax_rate, payer FROM shop_jobline WHERE job_card_id = %s",
        "row": "INSERT INTO loyalty_loyaltytransaction (balance_id, type, points, balance_after, "
               "reference_type, reference_id, job_line_id, notes, rule_version_id, expires_at, "
               "idempotency_key, details, created_at, created_by) VALUES "
               f"(%s, %s, %s, %s, 'shop.jobcard', %s, %s, '', %s, NULL, %s, %s{json_cast}, %s, %s) "
               "RETURNING id",
        "move": "UPDATE loyalty_customerloyaltybalance SET points_balance = %s, lifetime_points = %s, "
                "last_updated_at = %s WHERE id = %s",
        "event": "INSERT INTO activity_event (kind, customer_id, subject_type, subject_id, actor, "
                 f"occurred_at, payload) VALUES (%s, %s, 'loyalty.loyaltytransaction', %s, %s, %s, %s{json_cast})",
        "card": f"SELECT id, status FROM shop_jobcard WHERE id = %s{lock}",
        "position": "SELECT COALESCE(MAX(position), 0) FROM shop_jobline WHERE job_card_id = %s",
        "line": "INSERT INTO shop_jobline (job_card_id, position, kind, description, quantity, unit_price, "
                "tax_rate, payer, created_at) VALUES (%s, %s, 'discount', %s, 1, %s, 0, 'customer', %s) "
                "RETURNING id",
        "totals": "UPDATE shop_jobcard SET discount_total = %s, total = %s, updated_at = %s WHERE id = %s",
    }


class Baseline:
    def __init__(self, program: LoyaltyProgram):
        self.program_id = program.pk
        self.version_id = program.current_version_id
        self.sql = _sql(connection.vendor)

    def _balance(self, cur, customer_id: int, now):
        cur.execute(self.sql["balance"], [customer_id, self.program_id])
        row = cur.fetchone()
        if row is None:
            cur.execute(self.sql["enrol"], [customer_id, self.program_id, now, now])
            cur.execute(self.sql["balance"], [customer_id, self.program_id])
            row = cur.fetchone()
        return row

    def _append(self, cur, *, balance, customer_id, kind, points, lifetime, reference, line_id, now):
        balance_id, current, _ = balance
        after = current + points
        key = None if kind == "redeem" else f"bench-earn:{balance_id}:{reference}"
        cur.execute(self.sql["row"], [balance_id, kind, points, after, str(reference), line_id,
                                      self.version_id, key, "{}", now, ACTOR.label])
        row_id = cur.fetchone()[0]
        cur.execute(self.sql["move"], [after, lifetime, now, balance_id])
        payload = json.dumps({"points": points, "balance": after})
        cur.execute(self.sql["event"], [f"loyalty.{kind}", customer_id, row_id, ACTOR.label, now, payload])

    def earn(self, card: JobCard) -> str:
        now = timezone.now()
        with transaction.atomic(), connection.cursor() as cur:
            balance = self._balance(cur, card.customer_id, now)
            cur.execute(self.sql["earned"], [balance[0], str(card.pk)])
            if cur.fetchone():
                return "no-op"
            cur.execute(self.sql["lines"], [card.pk])
            spend = sum((Decimal(q) * Decimal(p) for kind, q, p, _t, payer in cur.fetchall()
                         if payer == "customer" and kind in ("labor", "part")), Decimal("0"))
            points = int(spend)
            self._append(cur, balance=balance, customer_id=card.customer_id, kind="earn", points=points,
                         lifetime=balance[2] + points, reference=card.pk, line_id=None, now=now)
        return "earned"

    def redeem(self, card: JobCard) -> str:
        now = timezone.now()
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute(self.sql["card"], [card.pk])
            cur.fetchone()
            balance = self._balance(cur, card.customer_id, now)
            if balance[1] < REDEEM_POINTS:
                return "overdraw"
            value = Decimal(REDEEM_POINTS) * Decimal("0.01")
            cur.execute(self.sql["position"], [card.pk])
            position = cur.fetchone()[0] + 1
            cur.execute(self.sql["line"], [card.pk, position, f"Loyalty reward: {REDEEM_POINTS} points",
                                           value, now])
            line_id = cur.fetchone()[0]
            cur.execute(self.sql["lines"], [card.pk])
            subtotal = discount = tax = Decimal("0")
            for kind, quantity, price, rate, _payer in cur.fetchall():
                net = (Decimal(quantity) * Decimal(price)).quantize(Decimal("0.01"))
                if kind == "discount":
                    discount += net
                    tax -= (net * Decimal(rate)).quantize(Decimal("0.01"))
                else:
                    subtotal += net
                    tax += (net * Decimal(rate)).quantize(Decimal("0.01"))
            cur.execute(self.sql["totals"], [discount, subtotal - discount + tax, now, card.pk])
            self._append(cur, balance=balance, customer_id=card.customer_id, kind="redeem",
                         points=-REDEEM_POINTS, lifetime=balance[2], reference=card.pk,
                         line_id=line_id, now=now)
        return "redeemed"


# --- proof -------------------------------------------------------------------------------------


def _proof(program: LoyaltyProgram, customers: list[int], redeem_cards: list[JobCard],
           redeemed: int, retry: Counter) -> list[str]:
    """Everything that would show a lost or double-spent point; empty when the ledger is exact."""
    problems = []
    balances = {b.customer_id: b for b in CustomerLoyaltyBalance.objects.filter(program=program)}
    drifts = [d for d in selectors.balance_drifts() if d.program_id == program.pk]
    problems += [f"drift: {d}" for d in drifts]
    if retry.get("earned"):
        problems.append(f"the retry pass earned {retry['earned']} more times")
    expected_each = EARN_CARDS_PER_CUSTOMER * int(LABOR)
    redeem_rows = LoyaltyTransaction.objects.filter(balance__program=program, type="redeem")
    if redeem_rows.count() != redeemed:
        problems.append(f"{redeem_rows.count()} redeem rows for {redeemed} successful redemptions")
    lines = JobLine.objects.filter(job_card__in=redeem_cards, kind="discount")
    if lines.count() != redeemed or any(line.unit_price != Decimal("0.50") for line in lines):
        problems.append(f"{lines.count()} discount lines for {redeemed} redemptions")
    for customer_id in customers:
        balance = balances.get(customer_id)
        if balance is None:
            problems.append(f"customer {customer_id} has no balance")
            continue
        earned = sum(balance.transactions.filter(type="earn").values_list("points", flat=True))
        spent = -sum(balance.transactions.filter(type="redeem").values_list("points", flat=True))
        if earned != expected_each:
            problems.append(f"customer {customer_id} earned {earned}, expected {expected_each}")
        if balance.points_balance != earned - spent or balance.points_balance < 0:
            problems.append(f"customer {customer_id} holds {balance.points_balance}, "
                            f"earned {earned} - redeemed {spent}")
    return problems


def _cleanup(location: Location, customer_ids: list[int], program_ids: list[int]) -> None:
    """Remove everything this run created (see the module docstring)."""
    with transaction.atomic(), connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("SET LOCAL session_replication_role = replica")
        balances = "SELECT id FROM loyalty_customerloyaltybalance WHERE program_id = ANY(%s)"
        if connection.vendor != "postgresql":
            balances = balances.replace("= ANY(%s)", "IN (SELECT value FROM json_each(%s))")
        ids = program_ids if connection.vendor == "postgresql" else json.dumps(program_ids)
        cur.execute(f"DELETE FROM loyalty_loyaltytransaction WHERE balance_id IN ({balances})", [ids])
        cur.execute(balances.replace("SELECT id FROM", "DELETE FROM"), [ids])
        for pk in program_ids:
            cur.execute("UPDATE loyalty_loyaltyprogram SET current_version_id = NULL WHERE id = %s", [pk])
            cur.execute("DELETE FROM loyalty_loyaltyruleversion WHERE program_id = %s", [pk])
            cur.execute("DELETE FROM loyalty_loyaltyprogram WHERE id = %s", [pk])
            cur.execute("DELETE FROM activity_event WHERE subject_type = 'loyalty.loyaltyprogram' "
                        "AND subject_id = %s", [pk])
    Customer.objects.filter(pk__in=customer_ids).delete()
    location.delete()


def run(ctx: Context) -> list[Result]:
    location = _location()
    customer_ids: list[int] = []
    program_ids: list[int] = []
    try:
        vehicles, earn_cards, redeem_cards = _world(location, customer_ids)
        return _measure(vehicles, earn_cards, redeem_cards, program_ids)
    finally:
        _cleanup(location, customer_ids, program_ids)


def _measure(vehicles, earn_cards, redeem_cards, program_ids: list[int]) -> list[Result]:
    customers = [v.customer_id for v in vehicles]
    all_earn_cards = [card for cards in earn_cards.values() for card in cards]
    earn_batches = _split(all_earn_cards, CLIENTS)
    sb_redeem, base_redeem = redeem_cards[:CLIENTS], redeem_cards[CLIENTS:]

    # Each measurement runs right after its baseline, so both see the same machine. The baseline
    # has its own program: it earns on the same cards and redeems on its own.
    base_program = _program("baseline")
    program_ids.append(base_program.pk)
    baseline = Baseline(base_program)
    base_earn_s, _ = _concurrently(baseline.earn, earn_batches)
    program = _program("servicebay")
    program_ids.append(program.pk)
    earn_s, earn_outcomes = _concurrently(_servicebay_earn, earn_batches)
    _, retry = _concurrently(_servicebay_earn, earn_batches)
    base_redeem_s, base_outcomes = _concurrently(
        baseline.redeem, [[card] * REDEEMS_PER_CLIENT for card in base_redeem])
    redeem_s, redeem_outcomes = _concurrently(
        _servicebay_redeem, [[card] * REDEEMS_PER_CLIENT for card in sb_redeem])
    _retire_programs()

    problems = _proof(program, customers, sb_redeem, redeem_outcomes["redeemed"], retry)
    if earn_outcomes["earned"] != len(all_earn_cards):
        problems.append(f"{earn_outcomes['earned']} earns for {len(all_earn_cards)} completed cards")
    proof = "no point lost or double-spent" if not problems else "; ".join(problems[:3])
    earns, attempts = len(all_earn_cards), CLIENTS * REDEEMS_PER_CLIENT
    return [
        Result(
            metric=f"loyalty earn throughput, {CLIENTS} clients", value=earns / earn_s, unit="earns/s",
            baseline=earns / base_earn_s, budget_ratio=EARN_RATIO, higher_is_better=True,
            note=f"{earns} earns on {CUSTOMERS} customers; {proof}", failed=bool(problems),
        ),
        Result(
            metric=f"loyalty redeem throughput, {CLIENTS} clients", value=attempts / redeem_s,
            unit="redeems/s", baseline=attempts / base_redeem_s, budget_ratio=REDEEM_RATIO,
            higher_is_better=True,
            note=(f"{redeem_outcomes['redeemed']} redeemed, {redeem_outcomes['overdraw']} refused "
                  f"(baseline {base_outcomes['redeemed']}/{base_outcomes['overdraw']}); {proof}"),
            failed=bool(problems),
        ),
    ]

"""Fault injection, loyalty (issue 8): a worker completing and reopening job cards is SIGKILLed.

A real process (``manage.py shell -c WORKER``) moves job cards of many enrolled customers through
the same service a web request uses (``shop.job_card_transition``; the loyalty receivers earn and
reverse inside its transaction) and runs the expiry task, and is killed with SIGKILL at random
moments. Afterwards the ledger is audited with plain SQL, independent of the code under test, and
with ``manage.py loyalty verify``.

The helpers here (``loyalty_world``, ``LoyaltyWorker``, ``ledger_anomalies``) are also used by
``test_faults_connection.py``, which drops the worker's database connection instead.
"""

from __future__ import annotations

import os
import random
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from servicebay.loyalty.services import points_adjust
from servicebay.shop import services as shop
from tests import factories
from tests.factories import SYSTEM
from tests.loyalty.conftest import make_program
from tests.worker_db import Source
from tests.worker_db import pg_connect as _pg_connect

pytestmark = pytest.mark.django_db(transaction=True)

REPO = Path(settings.BASE_DIR)
WELCOME_POINTS = 50

# The worker. FAULT_OPS bounds the loop (0: until killed); FAULT_HOLD makes it first complete one
# card inside an outer transaction and stay busy in it, holding its locks (test_faults_connection).
WORKER = """
import os, random, time
from pathlib import Path
from django.db import transaction
from servicebay.core.actors import Actor
from servicebay.loyalty.tasks import loyalty_expire_points
from servicebay.shop import services as shop
from servicebay.shop.models import JobCard

actor = Actor.system(os.environ.get("FAULT_ACTOR", "fault-worker"))
rng = random.Random(int(os.environ["FAULT_SEED"]))
cards = [int(pk) for pk in os.environ["FAULT_CARDS"].split(",")]
ops = int(os.environ.get("FAULT_OPS", "0"))


def step(pk):
    card = JobCard.objects.get(pk=pk)
    target = "in_progress" if card.status == "completed" else "completed"
    shop.job_card_transition(job_card=card, to_status=target, actor=actor)


Path(os.environ["FAULT_READY"]).touch()
if os.environ.get("FAULT_HOLD"):
    with transaction.atomic():
        step(cards[0])
        Path(os.environ["FAULT_HOLD"]).touch()
        until = time.monotonic() + 120
        while time.monotonic() < until:  # still busy inside the transaction, as a slow request is
            JobCard.objects.filter(pk=cards[0]).exists()
            time.sleep(0.05)
loyalty_expire_points.call()
done = 0
while not ops or done < ops:
    if rng.random() < 0.05:
        loyalty_expire_points.call()
    else:
        step(rng.choice(cards))
    done += 1
print(f"worker done: {done} operation(s)")
"""


def loyalty_world(*, customers: int = 24, cards_each: int = 2) -> list[int]:
    """Enrolled customers with points due to expire and job cards in progress; the card ids.

    Each customer got ``WELCOME_POINTS`` 400 days ago in a program whose points expire after 12
    months, so the expiry task has real work; every card has one labor line, so every completion
    earns a positive number of points.
    """
    program = make_program(accrual={"expire_after_months": 12})
    location = factories.make_location()
    long_ago = timezone.now() - timedelta(days=400)
    cards = []
    for i in range(customers):
        customer = factories.make_customer(home_location=location)
        points_adjust(customer=customer, program=program, points=WELCOME_POINTS, reason="Welcome bonus",
                      actor=SYSTEM, now=long_ago)
        vehicle = factories.make_vehicle(customer)
        for j in range(cards_each):
            card = factories.make_job_card(vehicle=vehicle, location=location)
            factories.add_line(card, unit_price=Decimal(f"{100 + 7 * i + j}.00"))
            shop.job_card_transition(job_card=card, to_status="in_progress", actor=SYSTEM)
            cards.append(card.pk)
    return cards


def manage(source: Source, *args: str, env: dict[str, str] | None = None, **popen) -> subprocess.Popen:
    """``manage.py <args>`` in its own process, against the database ``source`` describes."""
    return subprocess.Popen([sys.executable, "manage.py", *args], cwd=REPO,
                            env={**os.environ, "DATABASE_URL": source.url, **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


class LoyaltyWorker:
    """One run of ``WORKER`` as its own process; ``app`` names its PostgreSQL connections."""

    def __init__(self, source: Source, tmp_path: Path, cards: list[int], *, seed: int, run: int,
                 ops: int = 0, hold: bool = False) -> None:
        self.ready = tmp_path / f"ready-{run}"
        self.holding = tmp_path / f"holding-{run}" if hold else None
        self.app = f"sb-fault-{os.getpid()}-{run}"
        env = {"FAULT_SEED": str(seed), "FAULT_CARDS": ",".join(map(str, cards)),
               "FAULT_READY": str(self.ready), "FAULT_OPS": str(ops), "PGAPPNAME": self.app}
        if self.holding is not None:
            env.update(FAULT_HOLD=str(self.holding), FAULT_ACTOR="fault-holder")
        self.process = manage(source, "shell", "--no-imports", "-c", WORKER, env=env)

    def wait_for(self, path: Path, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not path.exists():
            if self.process.poll() is not None:
                raise AssertionError(f"worker ended early: {self.process.communicate()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"worker never reached {path.name}")
            time.sleep(0.02)

    def finish(self, timeout: float = 120) -> tuple[int, str, str]:
        out, err = self.process.communicate(timeout=timeout)
        return self.process.returncode, out, err


def in_write_transaction(source: Source, worker: LoyaltyWorker) -> bool:
    """Whether the worker is inside a write transaction right now. PostgreSQL: its backend has a
    transaction id. SQLite: the file's write lock is taken (``BEGIN IMMEDIATE`` fails at once)."""
    if source.sqlite_path is None:
        with _pg_connect() as con:
            return con.execute("SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = %s "
                               "AND backend_xid IS NOT NULL", [worker.app]).fetchone()[0] > 0
    probe = sqlite3.connect(source.sqlite_path, timeout=0, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError as exc:
        assert "locked" in str(exc), exc
        return True
    finally:
        probe.close()


def ledger_anomalies(source: Source, cards: list[int]) -> tuple[list[str], Counter]:
    """Everything wrong with the ledger, in plain SQL (not through the code under test).

    - every balance equals the sum of its rows and is never negative; each row's ``balance_after``
      is the running sum of its balance's rows in id order;
    - a completed card has exactly one standing (unreversed) earn, any other card none, and no
      (program, card) has two standing earns;
    - every completion wrote its earn and every reopening its reversal in the same transaction:
      one ``jobcard.completed`` event per earn row, one ``jobcard.reopened`` per reversal, one
      ``loyalty.earned`` event per earn row.
    """
    problems: list[str] = []
    stats: Counter = Counter()
    balances = source.execute(
        "SELECT b.id, b.points_balance, COALESCE(SUM(t.points), 0) FROM loyalty_customerloyaltybalance b "
        "LEFT JOIN loyalty_loyaltytransaction t ON t.balance_id = b.id GROUP BY b.id, b.points_balance")
    for balance_id, stored, total in balances:
        if stored != total or stored < 0:
            problems.append(f"balance {balance_id}: stored {stored}, ledger sum {total}")
    running: Counter = Counter()
    for balance_id, row_id, points, after in source.execute(
            "SELECT balance_id, id, points, balance_after FROM loyalty_loyaltytransaction "
            "ORDER BY balance_id, id"):
        running[balance_id] += points
        if running[balance_id] != after:
            problems.append(f"row {row_id}: balance_after {after}, running sum {running[balance_id]}")

    status = dict(source.execute("SELECT id, status FROM shop_jobcard"))
    earns = source.execute(
        "SELECT t.id, b.program_id, t.reference_id, "
        "CASE WHEN EXISTS (SELECT 1 FROM loyalty_loyaltytransaction r WHERE r.reverses_id = t.id) "
        "THEN 1 ELSE 0 END FROM loyalty_loyaltytransaction t "
        "JOIN loyalty_customerloyaltybalance b ON b.id = t.balance_id "
        "WHERE t.type = 'earn' AND t.reference_type = 'shop.jobcard'")
    earned: Counter = Counter()
    reversed_: Counter = Counter()
    standing: Counter = Counter()
    for _, program_id, reference, is_reversed in earns:
        card = int(reference)
        earned[card] += 1
        reversed_[card] += is_reversed
        standing[program_id, card] += not is_reversed
    for (program_id, card), n in standing.items():
        if n > 1:
            problems.append(f"program {program_id}, card {card}: {n} standing earns")
    events = Counter(
        (kind, subject) for kind, subject in source.execute(
            "SELECT kind, subject_id FROM activity_event "
            "WHERE kind IN ('jobcard.completed', 'jobcard.reopened', 'loyalty.earned')"))
    for card in cards:
        want = 1 if status[card] in ("completed", "closed") else 0
        if earned[card] - reversed_[card] != want:
            problems.append(f"card {card} ({status[card]}): {earned[card]} earn(s), "
                            f"{reversed_[card]} reversed")
        if events["jobcard.completed", card] != earned[card]:
            problems.append(f"card {card}: {events['jobcard.completed', card]} completion(s), "
                            f"{earned[card]} earn(s)")
        if events["jobcard.reopened", card] != reversed_[card]:
            problems.append(f"card {card}: {events['jobcard.reopened', card]} reopening(s), "
                            f"{reversed_[card]} reversal(s)")
    for row_id, *_ in earns:
        if events["loyalty.earned", row_id] != 1:
            problems.append(f"earn {row_id}: {events['loyalty.earned', row_id]} loyalty.earned event(s)")
    stats.update(completions=sum(earned.values()), reopenings=sum(reversed_.values()),
                 completed_now=sum(status[c] == "completed" for c in cards))
    return problems, stats


def expiry_anomalies(source: Source) -> tuple[list[str], int]:
    """After a clean expiry run: every balance's welcome points expired exactly once, in one row."""
    problems = []
    rows = source.execute(
        "SELECT b.id, COUNT(t.id), COALESCE(SUM(t.points), 0) FROM loyalty_customerloyaltybalance b "
        "LEFT JOIN loyalty_loyaltytransaction t ON t.balance_id = b.id AND t.type = 'expire' "
        "GROUP BY b.id")
    for balance_id, n, points in rows:
        if n != 1 or -points != WELCOME_POINTS:
            problems.append(f"balance {balance_id}: {n} expiry row(s) for {-points} points")
    return problems, len(rows)


def converge_and_audit(source: Source, tmp_path: Path, cards: list[int], *, seed: int) -> list[str]:
    """A clean worker run (it also expires what is due), then ``loyalty verify`` and the audit."""
    clean = LoyaltyWorker(source, tmp_path, cards, seed=seed, run=10_000, ops=20)
    code, out, err = clean.finish()
    problems = [] if code == 0 else [f"clean run exited {code}: {err[-2000:]}"]
    verify = manage(source, "loyalty", "verify")
    out, err = verify.communicate(timeout=120)
    if verify.returncode != 0 or "All balances match" not in out:
        problems.append(f"loyalty verify exited {verify.returncode}: {out} {err[-2000:]}")
    ledger, _ = ledger_anomalies(source, cards)
    expired, _ = expiry_anomalies(source)
    return problems + ledger + expired


def fault_seed() -> int:
    """``FAULT_SEED`` from the environment to replay a run, else a fresh one (printed)."""
    seed = int(os.environ.get("FAULT_SEED") or random.SystemRandom().randrange(2**32))
    print(f"fault seed: {seed} (replay with FAULT_SEED={seed})")
    return seed


@pytest.mark.slow
def test_sigkill_during_earn_on_completion_leaves_the_ledger_exact(tmp_path, fault_report):
    seed = fault_seed()
    rng = random.Random(seed)
    cards = loyalty_world()
    source = Source(tmp_path)
    kills = rng.randint(8, 10)
    mid_write = 0
    for run in range(kills):
        worker = LoyaltyWorker(source, tmp_path, cards, seed=rng.randrange(2**32), run=run)
        worker.wait_for(worker.ready)
        time.sleep(rng.uniform(0.1, 1.2))
        mid_write += in_write_transaction(source, worker)
        # Still working when killed, not finished or crashed on its own.
        assert worker.process.poll() is None, (seed, worker.finish())
        worker.process.kill()
        worker.process.wait()
    progress = ledger_anomalies(source, cards)
    anomalies = progress[0] + converge_and_audit(source, tmp_path, cards, seed=seed)
    _, stats = ledger_anomalies(source, cards)
    # The kills interrupted real work: cards were completed and reopened before the clean run.
    assert progress[1]["completions"] > len(cards) // 2, (seed, progress[1])
    fault_report.add(
        "loyalty: SIGKILL during earn on completion", runs=kills + 1, faults=kills,
        anomalies=len(anomalies),
        detail=f"seed={seed}, {mid_write} kills inside a write transaction; {stats['completions']} earns, {stats['reopenings']} reversals "
               f"over {len(cards)} cards",
    )
    assert anomalies == [], (seed, anomalies[:20])

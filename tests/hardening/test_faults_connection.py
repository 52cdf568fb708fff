"""Fault injection (issue 8): the database connection dropped in the middle of a transaction.

On PostgreSQL the test terminates the worker's own backend (``pg_terminate_backend`` on the pid
that ``pg_stat_activity`` shows under the worker's ``application_name``, set through
``PGAPPNAME``) while that backend is inside a transaction: the loyalty earn on job-card
completion, a ``manage.py messaging run`` round and a ``manage.py warehouse sync``. Each time
the process must end non-zero with an error that names the cause (not hang), nothing half-written
may be visible, and a clean rerun must converge.

SQLite has no server connection to drop. What can happen there is that the process holding the
one write transaction dies, leaving the file's lock behind for the others, and that a second
writer meets ``database is locked``. ``test_a_lost_lock_holder_releases_the_waiting_worker``
covers that on both databases: a worker holds its transaction (SQLite: the database write lock,
PostgreSQL: the card and balance row locks) while another worker waits for it — on SQLite on the
busy timeout the settings give every connection (``BEGIN IMMEDIATE``, 30 s), instead of failing
with ``database is locked`` — and the holder is killed (SQLite) or its connection dropped
(PostgreSQL). The messaging and warehouse scenarios are PostgreSQL only: on SQLite their fault is
the process dying, which ``test_faults_messaging.py`` and ``tests/warehouse/test_convergence.py``
inject.
"""

from __future__ import annotations

import random
import re
import subprocess
import time
from datetime import time as clock
from datetime import timedelta

import duckdb
import pytest
from django.db import connection
from django.utils import timezone

from servicebay.messaging import journeys, outbox
from servicebay.messaging.services import message_template_create
from servicebay.shop import services as shop
from tests import factories
from tests.factories import SYSTEM
from tests.hardening.test_faults_loyalty import (
    LoyaltyWorker,
    converge_and_audit,
    fault_seed,
    ledger_anomalies,
    loyalty_world,
    manage,
)
from tests.messaging.conftest import provider  # noqa: F401 - fixture
from tests.messaging.provider_emulator import ACCOUNT, TOKEN
from tests.segments.helpers import complete_visit
from tests.warehouse.test_convergence import (
    CHECKED,
    SOURCE_TABLE,
    _checksum,
    _sync_process,
    _wait_for_run,
)
from tests.worker_db import Source
from tests.worker_db import pg_connect as _pg_connect

pytestmark = pytest.mark.django_db(transaction=True)

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite has no server connection to drop; its fault (the process dying mid-transaction) "
           "is covered by test_a_lost_lock_holder_releases_the_waiting_worker and the SIGKILL tests",
)

# What the client says when its backend was terminated: the cause, in one line.
DROPPED = ("terminating connection due to administrator command", "server closed the connection",
           "connection is closed", "connection already closed", "the connection is lost")


def terminate_in_transaction(app: str, process: subprocess.Popen, *, writing: bool,
                             touching: str = "", timeout: float = 30,
                             interval: float = 0.005) -> str | None:
    """Terminate ``app``'s backend as soon as it is inside a transaction (one that has written,
    if ``writing``; whose last statement matches the regular expression ``touching``, if given).
    Returns what the backend was doing, or None if the process ended first."""
    inside = "backend_xid IS NOT NULL" if writing else "xact_start IS NOT NULL"
    deadline = time.monotonic() + timeout
    with _pg_connect() as con:
        while time.monotonic() < deadline and process.poll() is None:
            row = con.execute(
                f"SELECT pid, state, left(query, 200) FROM pg_stat_activity "
                f"WHERE application_name = %s AND {inside} AND query ~ %s LIMIT 1",
                [app, touching]).fetchone()
            if row and con.execute("SELECT pg_terminate_backend(%s)", [row[0]]).fetchone()[0]:
                return _statement(row[1], row[2])
            time.sleep(interval)
    return None


def _statement(state: str, query: str) -> str:
    """``active UPDATE messaging_message``: what a backend was doing, in a few words."""
    verb = query.split(maxsplit=1)[0] if query.strip() else "-"
    table = re.search(r'"(\w+)"', query)
    return f"{state} {verb}" + (f" {table.group(1)}" if table else "")


class Drops:
    """The connection drops of one scenario: where each landed and how the process took it."""

    def __init__(self) -> None:
        self.where: list[str] = []
        self.anomalies: list[str] = []
        self.slowest = 0.0

    @property
    def faults(self) -> int:
        return len(self.where)

    def ended(self, process: subprocess.Popen, doing: str, *, timeout: float = 30) -> None:
        """The process must end soon (no hang), non-zero, with output naming the lost connection."""
        self.where.append(doing)
        started = time.monotonic()
        try:
            out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            self.anomalies.append(f"{doing}: still running {timeout:.0f} s after the drop")
            return
        self.slowest = max(self.slowest, time.monotonic() - started)
        output = (out or "") + (err or "")
        lines = [line for line in output.splitlines() if line.strip()]
        if process.returncode == 0 or not any(text in output for text in DROPPED):
            self.anomalies.append(f"{doing}: exit {process.returncode}: {lines[-1:] or 'no output'}")

    def summary(self) -> str:
        return f"each exited non-zero within {self.slowest:.1f} s; dropped in: " + ", ".join(self.where)


# --- loyalty earn on completion -----------------------------------------------------------------


@postgres_only
@pytest.mark.slow
def test_dropped_connection_during_earn_on_completion_rolls_back_and_converges(tmp_path, fault_report):
    seed = fault_seed()
    rng = random.Random(seed)
    cards = loyalty_world(customers=8)
    source = Source(tmp_path)
    drops = Drops()
    anomalies: list[str] = []
    for run in range(3):
        worker = LoyaltyWorker(source, tmp_path, cards, seed=rng.randrange(2**32), run=run)
        worker.wait_for(worker.ready)
        time.sleep(rng.uniform(0.05, 0.6))
        doing = terminate_in_transaction(worker.app, worker.process, writing=True)
        assert doing is not None, (seed, worker.finish())
        drops.ended(worker.process, doing)
        # Nothing half-written: every completion that is visible has its earn, and so on.
        anomalies += ledger_anomalies(source, cards)[0]
    anomalies += drops.anomalies + converge_and_audit(source, tmp_path, cards, seed=seed)
    _, stats = ledger_anomalies(source, cards)
    fault_report.add(
        "loyalty: connection dropped during earn on completion", runs=drops.faults + 1,
        faults=drops.faults, anomalies=len(anomalies),
        detail=f"seed={seed}; {stats['completions']} earns, {stats['reopenings']} reversals; "
               + drops.summary(),
    )
    assert anomalies == [], (seed, anomalies[:20])


@pytest.mark.slow
def test_a_lost_lock_holder_releases_the_waiting_worker(tmp_path, fault_report):
    """A holds the locks of a completion it has not committed; B waits for them. A is lost (its
    connection dropped on PostgreSQL, the process killed on SQLite): B must go on within seconds,
    A's completion must not be visible, and the ledger must audit clean."""
    seed = fault_seed()
    cards = loyalty_world(customers=6, cards_each=1)
    source = Source(tmp_path)
    holder = LoyaltyWorker(source, tmp_path, cards, seed=seed, run=0, hold=True)
    holder.wait_for(holder.holding)
    waiter = LoyaltyWorker(source, tmp_path, cards, seed=seed + 1, run=1, ops=10)
    waiter.wait_for(waiter.ready)
    time.sleep(1.0)
    anomalies = []
    written = source.execute("SELECT COUNT(*) FROM activity_event WHERE actor = 'fault-worker'")[0][0]
    if waiter.process.poll() is not None or written:
        anomalies.append(f"the waiter did not wait for the held locks ({written} writes)")
    if connection.vendor == "postgresql":
        with _pg_connect() as con:
            waiting = con.execute("SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = %s "
                                  "AND wait_event_type = 'Lock'", [waiter.app]).fetchone()[0]
        assert waiting == 1, "the second worker should be waiting for the first one's row locks"
        doing = terminate_in_transaction(holder.app, holder.process, writing=True)
        assert doing is not None, holder.finish()
        drops = Drops()
        drops.ended(holder.process, doing)
        anomalies += drops.anomalies
    else:
        holder.process.kill()
        holder.process.wait()
    started = time.monotonic()
    code, _, err = waiter.finish(timeout=60)
    waited = time.monotonic() - started
    if code != 0 or waited > 20:
        anomalies.append(f"waiter exited {code} after {waited:.1f} s: {err[-1500:]}")
    # Not a trace of the holder's completion: no event, no ledger row it wrote.
    traces = (source.execute("SELECT COUNT(*) FROM activity_event WHERE actor = 'fault-holder'")[0][0]
              + source.execute("SELECT COUNT(*) FROM loyalty_loyaltytransaction "
                               "WHERE created_by = 'fault-holder'")[0][0])
    if traces:
        anomalies.append(f"{traces} row(s) of the lost holder's transaction are visible")
    anomalies += ledger_anomalies(source, cards)[0]
    anomalies += converge_and_audit(source, tmp_path, cards, seed=seed)
    how = "connection dropped" if connection.vendor == "postgresql" else "SIGKILL"
    fault_report.add(
        f"loyalty: lock holder lost ({how}), waiter proceeds", runs=3, faults=1,
        anomalies=len(anomalies),
        detail=f"seed={seed}; waiter finished {waited:.1f} s after the fault; "
               f"{traces} trace(s) of the lost transaction",
    )
    assert anomalies == [], (seed, anomalies)


# --- messaging round ----------------------------------------------------------------------------


def _messaging_world(location, customers: int) -> list[int]:
    """Customers whose job card was just completed; the journey on ``jobcard.completed`` texts them."""
    ids = []
    for _ in range(customers):
        customer = factories.make_customer(home_location=location)
        card = factories.make_job_card(vehicle=factories.make_vehicle(customer), location=location)
        factories.add_line(card)
        shop.job_card_transition(job_card=card, to_status="in_progress", actor=SYSTEM)
        shop.job_card_transition(job_card=card, to_status="completed", actor=SYSTEM)
        ids.append(customer.pk)
    return ids


# The claim (it locks the due rows); the recording of accepted sends (row update, event).
STAGE = ('"messaging_message"', 'SET "status" = \'sent\'|\'message\\.sent\'')


@postgres_only
@pytest.mark.slow
def test_dropped_connection_during_a_messaging_round_sends_each_message_once(
        tmp_path, fault_report, provider):  # noqa: F811 - the fixture
    seed = fault_seed()
    rng = random.Random(seed)
    provider.latency = 0.05
    location = factories.make_location(quiet_hours_start=clock(0), quiet_hours_end=clock(0))
    message_template_create(actor=SYSTEM, code="car-ready", name="Car ready", purpose="transactional",
                            sms_body="Hi {{ customer.first_name }}, your car is ready.")
    journey = journeys.journey_create(actor=SYSTEM, code="car-ready", name="Car ready", definition={
        "trigger": {"type": "event", "event": "jobcard.completed"},
        "steps": [{"type": "send", "template": "car-ready", "channels": ["sms"]}],
    })
    journeys.journey_set_active(journey=journey, active=True, actor=SYSTEM)
    source = Source(tmp_path)
    env = {"SMS_API_URL": provider.base_url, "SMS_ACCOUNT_SID": ACCOUNT, "SMS_API_KEY": TOKEN,
           "SMS_FROM": "+13125550100", "PUBLIC_BASE_URL": "https://shop.example"}
    customers: list[int] = []
    anomalies: list[str] = []
    drops = Drops()
    rounds = 4
    for run in range(rounds):
        # Every other round brings new completions (events to consume, journeys to advance); the
        # rounds between dispatch what the one before built, and the drop waits for the claim
        # (round 1) or for the recording of what the provider accepted (round 3: those sends stay
        # ``sending`` and must be found at the provider, not sent again).
        fresh = run % 2 == 0
        if fresh:
            customers += _messaging_world(location, 16)
        else:  # first a clean round without dispatch builds what the dropped one left, so it is due
            prepare = manage(source, "messaging", "run", "--no-dispatch", env=env)
            _, err = prepare.communicate(timeout=120)
            assert prepare.returncode == 0, err[-1500:]
        app = f"sb-fault-messaging-{run}-{seed}"
        process = manage(source, "messaging", "run", env={**env, "PGAPPNAME": app})
        time.sleep(rng.uniform(0.2, 1.0) if fresh else 0.5)  # into the start-up, then work
        doing = terminate_in_transaction(app, process, writing=True,
                                         touching="" if fresh else STAGE[run // 2 % 2],
                                         interval=0.005 if fresh else 0)
        if doing is None:  # the round ended before another write: no fault this time
            process.communicate()
            continue
        drops.ended(process, doing)
        anomalies += _messaging_anomalies(source, provider, journey.pk, final=False)
    # The leases of sends in flight at the drop run out (90 s, here by the clock we pass), the
    # provider is asked about them, and one clean round finishes the work.
    later = timezone.now() + outbox.LEASE + timedelta(seconds=1)
    in_flight = outbox.outbox_expire_leases(now=later)
    settled = outbox.outbox_reconcile(now=later)
    # Two rounds: a message a round builds is due just after that round's dispatch began.
    for _ in range(2):
        clean = manage(source, "messaging", "run", env=env)
        _, err = clean.communicate(timeout=120)
        if clean.returncode != 0:
            anomalies.append(f"clean round exited {clean.returncode}: {err[-1500:]}")
    anomalies += drops.anomalies
    anomalies += _messaging_anomalies(source, provider, journey.pk, final=True, customers=customers)
    fault_report.add(
        "messaging: connection dropped during a round", runs=rounds + 4, faults=drops.faults,
        anomalies=len(anomalies),
        detail=f"seed={seed}; {len(customers)} messages, {in_flight} in flight at a drop "
               f"({settled.sent} found at the provider, {settled.retried} queued again); "
               + drops.summary(),
    )
    assert drops.faults >= rounds // 2, (seed, drops.where)
    assert anomalies == [], (seed, anomalies[:20])


def _messaging_anomalies(source: Source, provider, journey_id: int, *, final: bool,  # noqa: F811
                         customers: list[int] | None = None) -> list[str]:
    """At most one enrollment and one message per customer, at most one send per idempotency key,
    every ``sent`` row accepted by the provider; when ``final``: everyone enrolled, texted once."""
    problems = []
    enrollments = dict(source.execute(
        f"SELECT customer_id, COUNT(*) FROM messaging_journeyenrollment WHERE journey_id = {journey_id} "
        f"GROUP BY customer_id"))
    rows = source.execute(f"SELECT customer_id, idempotency_key, status, provider_message_id "
                          f"FROM messaging_message WHERE journey_id = {journey_id}")
    per_customer: dict[int, int] = {}
    for customer_id, *_ in rows:
        per_customer[customer_id] = per_customer.get(customer_id, 0) + 1
    problems += [f"customer {c}: {n} enrollments" for c, n in enrollments.items() if n > 1]
    problems += [f"customer {c}: {n} messages" for c, n in per_customer.items() if n > 1]
    sent_at_provider = provider.per_idempotency_key()
    problems += [f"{key}: sent {n} times" for key, n in sent_at_provider.items() if n > 1]
    for _, key, status, provider_id in rows:
        if status == "sent" and (not provider_id or key not in sent_at_provider):
            problems.append(f"message {key}: marked sent, provider has {sent_at_provider.get(key, 0)}")
        if final and status != "sent":
            problems.append(f"message {key}: {status} after the clean round")
    if final:
        keys = {key for _, key, _, _ in rows}
        problems += [f"customer {c}: not enrolled" for c in customers or [] if c not in enrollments]
        problems += [f"customer {c}: no message" for c in customers or [] if c not in per_customer]
        if set(sent_at_provider) != keys:
            problems.append(f"provider has {len(sent_at_provider)} keys, outbox {len(keys)}")
    return problems


# --- warehouse sync -----------------------------------------------------------------------------


@postgres_only
@pytest.mark.slow
def test_dropped_connection_during_a_warehouse_sync_converges(tmp_path, fault_report, monkeypatch):
    seed = fault_seed()
    rng = random.Random(seed)
    location = factories.make_location()
    for i in range(30):
        vehicle = factories.make_vehicle(factories.make_customer(home_location=location))
        if i % 6 == 0:
            complete_visit(vehicle, amount=f"{i}.99", location=location)
    source = Source(tmp_path)
    anomalies: list[str] = []
    drops = Drops()
    rounds = 2
    for run in range(rounds):
        source.execute(f"UPDATE shop_customer SET first_name = 'D{run}' WHERE id % 10 = {run}")
        source.execute(f"UPDATE shop_vehicle SET odometer = odometer + 1 WHERE id % 10 = {run + 4}")
        app = f"sb-fault-warehouse-{run}-{seed}"
        with monkeypatch.context() as patch:
            patch.setenv("PGAPPNAME", app)
            process = _sync_process(source, tmp_path)
        _wait_for_run(source, process, run + 1)
        # Even rounds: the first transaction that comes by after a moment (mostly the commit that
        # moves the cursors); odd ones: a statement reading the source (extract), at once.
        if run % 2 == 0:
            time.sleep(rng.uniform(0.0, 0.5))
        doing = terminate_in_transaction(app, process, writing=False,
                                         touching="shop_" if run % 2 else "",
                                         interval=0 if run % 2 else 0.005)
        if doing is None:  # the sync finished before a transaction came by: no fault this round
            process.communicate()
            continue
        drops.ended(process, doing)
        # Nothing half-written: the cursors of every table moved together, with a succeeded run.
        states = source.execute("SELECT table_name, last_run_id FROM warehouse_tablestate "
                                "WHERE table_name IN ('customers', 'vehicles', 'job_cards')")
        runs = {last for _, last in states}
        if len(runs) > 1:
            anomalies.append(f"round {run}: tables point at different runs {sorted(states)}")
        for last in runs - {None}:
            status = source.execute(f"SELECT status FROM warehouse_syncrun WHERE id = {last}")[0][0]
            if status != "succeeded":
                anomalies.append(f"round {run}: cursors moved by run {last}, which is {status}")
    final = _sync_process(source, tmp_path)
    output, _ = final.communicate(timeout=120)
    if final.returncode != 0:
        anomalies.append(f"clean sync exited {final.returncode}: {output[-1500:]}")
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
        for table, columns in CHECKED.items():
            loaded = con.execute(f"SELECT {columns} FROM servicebay.{table} ORDER BY id").fetchall()
            expected = source.execute(f"SELECT {columns} FROM {SOURCE_TABLE[table]} ORDER BY id")
            if _checksum(loaded) != _checksum(expected):
                anomalies.append(f"warehouse {table} differs from the source")
    anomalies += drops.anomalies
    fault_report.add(
        "warehouse: connection dropped during a sync", runs=rounds + 1, faults=drops.faults,
        anomalies=len(anomalies), detail=f"seed={seed}; " + drops.summary(),
    )
    assert drops.faults >= 1, (seed, drops.where)
    assert anomalies == [], (seed, anomalies)

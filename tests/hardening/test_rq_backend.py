"""Scale-out: the background work runs on the Redis/RQ task backend, on two RQ workers at once.

Each test enqueues the real tasks from this process (django-tasks' ``enqueue()`` → RQ), and two
``servicebay worker`` processes with ``TASK_BACKEND=rq`` run them against real Redis
(127.0.0.1:6379, a database leased for the test) and a database all three processes see. The
outcomes are read back through django-tasks (``TaskResult.refresh()``, worker ids) and the
database: every message once, every ledger exact, one warehouse sync at a time.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from datetime import time, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from django_tasks import TaskResult, TaskResultStatus

from servicebay.activity.models import Event
from servicebay.loyalty.models import CustomerLoyaltyBalance, LoyaltyTransaction
from servicebay.loyalty.services import points_adjust, program_update, tiers_refresh
from servicebay.loyalty.tasks import loyalty_expire_points, loyalty_tiers_refresh
from servicebay.messaging import consent, defaults, journeys, services
from servicebay.messaging.choices import Channel, ConsentSource, MessageStatus, Purpose
from servicebay.messaging.models import Journey, Message, MessageTemplate
from servicebay.messaging.tasks import message_dispatch, messaging_run
from servicebay.shop import services as shop
from servicebay.shop.models import Customer, Location
from servicebay.warehouse.tasks import warehouse_sync_task
from tests import factories
from tests.conftest import on_ci
from tests.factories import SYSTEM
from tests.hardening.rq_cluster import (
    REDIS_HOST,
    REDIS_PORT,
    REPO,
    RQWorkers,
    SharedDatabase,
    executed_results,
    redis_database,
    redis_reachable,
    wait_drained,
    wait_finished,
)
from tests.loyalty.conftest import TIERS, card_with_lines, make_program, move
from tests.messaging.provider_emulator import ACCOUNT, TOKEN, TwilioEmulator
from tests.segments.helpers import complete_visit
from tests.warehouse.conftest import source_rows, warehouse_rows

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

WORKERS = 2
WAVES, PER_WAVE, DIRECT = 3, 10, 10  # journey enrollments in waves; staff sends
TOTAL = WAVES * PER_WAVE + DIRECT
RQ_TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}


@pytest.fixture
def rq_redis(settings):
    """This process enqueues on RQ, into a Redis database of its own."""
    if not redis_reachable():
        reason = f"Redis at {REDIS_HOST}:{REDIS_PORT} is unreachable: the RQ backend tests need it"
        if on_ci():
            pytest.fail(f"{reason} (mandatory on CI)")
        pytest.skip(reason)
    with redis_database() as url:
        settings.TASKS = RQ_TASKS
        settings.RQ_QUEUES = {"default": {"URL": url}}
        settings.RQ = {"JOB_CLASS": "django_tasks_rq.Job"}
        yield url


@pytest.fixture
def shared_db(transactional_db, tmp_path):
    with SharedDatabase(tmp_path) as shared:
        yield shared


@pytest.fixture
def start_workers(rq_redis, shared_db, tmp_path):
    """``start_workers(**env)`` starts two RQ workers (extra environment for both); stops them after."""
    started: list[RQWorkers] = []

    def start(worker_env: Sequence[dict[str, str]] = (), **env: str) -> RQWorkers:
        workers = RQWorkers(WORKERS, redis_url=rq_redis, database_url=shared_db.url,
                            log_dir=tmp_path / "workers", env=env, worker_env=worker_env)
        started.append(workers)
        return workers.start()

    yield start
    for workers in started:
        workers.stop()


def jobs_per_worker(results: Sequence[TaskResult]) -> Counter:
    return Counter(worker for result in results for worker in result.worker_ids)


def assert_all_succeeded(results: Sequence[TaskResult], workers: RQWorkers) -> None:
    failed = [r for r in results if r.status != TaskResultStatus.SUCCESSFUL]
    if failed:
        first = failed[0].errors[-1].traceback if failed[0].errors else "(no traceback)"
        names = Counter(r.task.name for r in failed)
        pytest.fail(f"{len(failed)} of {len(results)} task(s) did not succeed ({dict(names)}); the "
                    f"first one's traceback:\n{first}\nworker logs:\n{workers.logs()[-3000:]}")


# --- journeys dispatch -------------------------------------------------------------------------


def sms_customer(location: Location, purpose: str) -> Customer:
    """A customer who may get SMS for ``purpose`` (and on no other channel)."""
    customer = factories.make_customer(home_location=location)
    consent.consent_record(customer=customer, channel=Channel.SMS, purpose=purpose, granted=True,
                           source=ConsentSource.FORM, actor=SYSTEM)
    return customer


def provider_env(emulator: TwilioEmulator) -> dict[str, str]:
    return {"SMS_API_URL": emulator.base_url, "SMS_ACCOUNT_SID": ACCOUNT, "SMS_API_KEY": TOKEN,
            "SMS_FROM": "+13125550100", "WHATSAPP_API_URL": emulator.base_url,
            "WHATSAPP_ACCOUNT_SID": ACCOUNT, "WHATSAPP_API_KEY": TOKEN, "WHATSAPP_FROM": "+13125550101",
            "PUBLIC_BASE_URL": "https://shop.example"}


def test_journey_sends_and_direct_sends_go_out_once_each_on_two_rq_workers(
    shared_db, start_workers, rq_redis, fault_report
):
    emulator = TwilioEmulator(latency=0.01).start()
    try:
        workers = start_workers(**provider_env(emulator))
        location = factories.make_location(quiet_hours_start=time(0), quiet_hours_end=time(0))
        defaults.install(MessageTemplate, Journey)
        blast = journeys.journey_create(
            actor=SYSTEM, code="rq-blast", name="RQ blast",
            definition={"trigger": {"type": "birthday"},
                        "steps": [{"type": "send", "template": "birthday-greeting", "purpose": "marketing"}]},
        )
        journeys.journey_set_active(journey=blast, active=True, actor=SYSTEM)
        ours = []
        # Three waves of enrollments, each followed by two periodic rounds enqueued at once, so
        # both workers advance journeys and drain the outbox over the same rows.
        for wave in range(WAVES):
            for _ in range(PER_WAVE):
                customer = sms_customer(location, Purpose.MARKETING)
                journeys.journey_enroll(journey=blast, customer_id=customer.pk, trigger_key=f"wave-{wave}",
                                        start_at=timezone.now())
            ours += [messaging_run.enqueue() for _ in range(2)]
        # Staff sends: each commits, then enqueues its own dispatch; we enqueue a second one.
        for i in range(DIRECT):
            customer = sms_customer(location, Purpose.TRANSACTIONAL)
            message = services.message_send_now(customer=customer, actor=SYSTEM, channel=Channel.SMS,
                                                text=f"Your car is ready ({i})")
            ours.append(message_dispatch.enqueue(message.pk))
        ours += [messaging_run.enqueue() for _ in range(2)]
        wait_finished(ours, workers)
        wait_drained(workers)
        executed = executed_results(rq_redis)
        sent = dict(emulator.per_idempotency_key())
    finally:
        emulator.stop()

    assert_all_succeeded(executed, workers)
    assert {r.id for r in ours} <= {r.id for r in executed}
    dispatches = [r for r in executed if r.task.name == "message_dispatch"]
    assert len(dispatches) == 2 * DIRECT  # one enqueued on commit by message_send_now, one by us
    per_worker = jobs_per_worker(executed)
    assert set(per_worker) == set(workers.names), per_worker

    messages = list(Message.objects.values_list("idempotency_key", "status", "channel"))
    assert len(messages) == TOTAL
    assert {status for _, status, _ in messages} == {MessageStatus.SENT}
    assert {channel for _, _, channel in messages} == {Channel.SMS}
    duplicates = sum(count - 1 for count in sent.values())
    assert sorted(sent) == sorted(key for key, _, _ in messages)
    assert duplicates == 0, {key: n for key, n in sent.items() if n > 1}
    # The tasks' own accounts agree: each message was sent by exactly one job, on some worker.
    reported = sum(r.return_value.get("dispatch_sent", 0) for r in executed if r.task.name == "messaging_run")
    reported += sum(r.return_value["sent"] for r in dispatches)
    assert reported == TOTAL
    fault_report.add("rq: journeys + direct sends on 2 RQ workers", runs=len(executed),
                     faults=DIRECT + 2 * WAVES, anomalies=duplicates,
                     detail=f"{TOTAL} messages, jobs per worker {sorted(per_worker.values())}, "
                            f"{DIRECT} duplicate dispatches and {2 * WAVES} overlapping rounds enqueued")


# --- loyalty: completion in this process, upkeep on the workers ---------------------------------


def test_loyalty_upkeep_on_two_rq_workers_during_completions_keeps_every_ledger_exact(
    shared_db, start_workers, rq_redis, fault_report
):
    workers = start_workers()
    program = make_program(accrual={"expire_after_months": 12})
    long_ago = timezone.now() - timedelta(days=800)
    customers = [factories.make_customer() for _ in range(12)]
    cards = []
    for customer in customers:
        points_adjust(customer=customer, program=program, points=300, reason="Welcome", actor=SYSTEM,
                      now=long_ago)  # past its expiry: the workers expire it
        points_adjust(customer=customer, program=program, points=50, reason="Bonus", actor=SYSTEM)
        cards.append(card_with_lines(customer, ("labor", "100.00")))
    ours = []
    for i, card in enumerate(cards):
        if i % 3 == 0:
            ours += [loyalty_expire_points.enqueue(), loyalty_expire_points.enqueue(),
                     loyalty_tiers_refresh.enqueue()]
        if i == 6:
            # Cheaper silver: the program change enqueues the members' re-evaluation on commit;
            # only that job can move the six members who completed before it.
            levels = [{**level, "threshold": 50} if level["code"] == "silver" else level
                      for level in TIERS["levels"]]
            program_update(program=program, actor=SYSTEM, tiers={**TIERS, "levels": levels})
        move(card, "completed")  # the earn happens in the completion's transaction
    ours.append(loyalty_expire_points.enqueue())
    wait_finished(ours, workers)
    wait_drained(workers)
    executed = executed_results(rq_redis)

    assert_all_succeeded(executed, workers)
    refreshes = [r for r in executed if r.task.name == "loyalty_tiers_refresh"
                 and r.kwargs == {"program_id": program.pk}]
    assert len(refreshes) == 1 and refreshes[0].id not in {r.id for r in ours}
    assert refreshes[0].return_value == 6
    per_worker = jobs_per_worker(executed)
    assert set(per_worker) == set(workers.names), per_worker

    out = StringIO()
    call_command("loyalty", "verify", stdout=out)  # raises CommandError on any drift
    assert "All balances match" in out.getvalue()
    expiries = Counter(LoyaltyTransaction.objects.filter(type="expire").values_list("balance_id", flat=True))
    earns = Counter(LoyaltyTransaction.objects.filter(type="earn").values_list("balance_id", flat=True))
    balances = CustomerLoyaltyBalance.objects.filter(program=program)
    anomalies = sum(n - 1 for n in expiries.values()) + sum(n - 1 for n in earns.values())
    assert set(expiries.values()) == {1} and len(expiries) == 12
    assert set(earns.values()) == {1} and len(earns) == 12
    assert LoyaltyTransaction.objects.filter(type="expire", points=-300).count() == 12
    assert sorted(b.points_balance for b in balances) == [150] * 12
    assert {b.tier for b in balances} == {"silver"}
    moved_by_task = set(Event.objects.filter(kind="loyalty.tier_changed", actor="task:loyalty.tiers")
                        .values_list("customer_id", flat=True))
    assert moved_by_task == {c.pk for c in customers[:6]}
    assert tiers_refresh(program=program) == 0  # nothing left for a later refresh to do
    fault_report.add("rq: loyalty expiry + tiers on 2 RQ workers during completions", runs=len(executed),
                     faults=len(ours) - 1, anomalies=anomalies,
                     detail=f"12 completions meanwhile, jobs per worker {sorted(per_worker.values())}")


# --- warehouse sync ----------------------------------------------------------------------------


def test_two_warehouse_syncs_enqueued_at_once_one_runs_the_other_is_skipped(
    shared_db, start_workers, rq_redis, tmp_path, fault_report
):
    warehouse = tmp_path / "warehouse.duckdb"
    if connection.vendor == "postgresql":
        # As on a chain: each worker machine has its own dlt folder; the PostgreSQL advisory lock
        # is what keeps the syncs apart.
        dirs = [{"WAREHOUSE_PIPELINES_DIR": str(tmp_path / f"dlt-{i}")} for i in range(WORKERS)]
    else:
        # One machine: the lock is a file in the shared dlt folder.
        dirs = [{"WAREHOUSE_PIPELINES_DIR": str(tmp_path / "dlt")}] * WORKERS
    workers = start_workers(worker_env=dirs, WAREHOUSE_DESTINATION="duckdb", WAREHOUSE_PSEUDONYMISE="false",
                            WAREHOUSE_DUCKDB_PATH=str(warehouse))
    location = factories.make_location()
    vehicles = [factories.make_vehicle(factories.make_customer(home_location=location)) for _ in range(30)]
    for vehicle in vehicles[::6]:
        complete_visit(vehicle, location=location)
    skipped_total = 0
    for round_no in range(2):
        if round_no:
            for vehicle in vehicles[1::5]:
                shop.customer_update(customer=vehicle.customer, actor=SYSTEM, first_name=f"Round{round_no}")
            factories.make_vehicle(factories.make_customer(home_location=location))
            complete_visit(vehicles[2], location=location)
        workers.wait_idle()
        pair = [warehouse_sync_task.enqueue(), warehouse_sync_task.enqueue()]
        wait_finished(pair, workers, timeout=120)
        assert_all_succeeded(pair, workers)
        by_status = {r.return_value["status"]: r for r in pair}
        assert sorted(by_status) == ["skipped", "succeeded"], [r.return_value for r in pair]
        ran, skipped = by_status["succeeded"], by_status["skipped"]
        # They really overlapped, on different workers: the skip came while the sync was running.
        assert skipped.started_at < ran.finished_at
        assert set(ran.worker_ids) | set(skipped.worker_ids) == set(workers.names)
        skipped_total += 1
        for table in ("customers", "vehicles", "job_cards", "job_lines"):
            assert warehouse_rows(warehouse, table) == source_rows(table), (round_no, table)
    fault_report.add("rq: two warehouse syncs at once on 2 RQ workers", runs=4, faults=2,
                     anomalies=2 - skipped_total, detail="each round: one sync ran, the other was skipped")


# --- settings ----------------------------------------------------------------------------------


def test_rq_settings_pass_djangos_checks_and_an_unknown_backend_stops_start_up(tmp_path):
    env = {**os.environ, "SERVICEBAY_VAR_DIR": str(tmp_path), "REDIS_URL": "redis://127.0.0.1:6379/0",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'check.sqlite3'}"}

    def check(backend: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "servicebay.cli", "check"], cwd=REPO,
                              env={**env, "TASK_BACKEND": backend}, capture_output=True, text=True,
                              timeout=120)

    rq = check("rq")  # django-tasks-rq's own checks: django_rq installed, queue configured, rq >= 2.5
    assert rq.returncode == 0, rq.stderr
    typo = check("redis")
    assert typo.returncode != 0
    assert "TASK_BACKEND must be 'database' or 'rq', not 'redis'" in typo.stderr

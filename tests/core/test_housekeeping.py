"""Task results of the database backend: pruned when old, marked failed when their worker is gone."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.compat import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from servicebay.core import housekeeping
from servicebay.core.housekeeping import WorkerLost, lost_on_this_machine, task_results_tidy
from servicebay.core.tasks import core_task_results_tidy

pytestmark = pytest.mark.django_db(transaction=True)
LOST = f"{WorkerLost.__module__}.{WorkerLost.__qualname__}"


def _result(status: str, *, started_ago: timedelta | None = None, finished_ago: timedelta | None = None,
            worker: str = "elsewhere:1") -> DBTaskResult:
    """A task result row as the worker leaves it, made from a real enqueue."""
    row = DBTaskResult.objects.get(pk=core_task_results_tidy.enqueue().id)
    now = timezone.now()
    row.status = status
    row.worker_ids = [worker]
    row.started_at = now - started_ago if started_ago is not None else None
    row.finished_at = now - finished_ago if finished_ago is not None else None
    row.save()
    return row


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_old_results_are_pruned_failed_ones_kept_longer(settings):
    settings.TASK_RESULTS_KEEP_DAYS = 7
    old_ok = _result(TaskResultStatus.SUCCESSFUL, started_ago=timedelta(days=8), finished_ago=timedelta(days=8))
    recent_ok = _result(TaskResultStatus.SUCCESSFUL, started_ago=timedelta(days=6), finished_ago=timedelta(days=6))
    failed_month = _result(TaskResultStatus.FAILED, started_ago=timedelta(days=20), finished_ago=timedelta(days=20))
    failed_older = _result(TaskResultStatus.FAILED, started_ago=timedelta(days=29), finished_ago=timedelta(days=29))
    ready = _result(TaskResultStatus.READY)

    tidied = task_results_tidy()

    assert tidied.pruned == 2
    left = set(DBTaskResult.objects.values_list("pk", flat=True))
    assert left == {recent_ok.pk, failed_month.pk, ready.pk}
    assert old_ok.pk not in left and failed_older.pk not in left


def test_pruning_goes_in_batches(settings, monkeypatch):
    settings.TASK_RESULTS_KEEP_DAYS = 1
    monkeypatch.setattr(housekeeping, "PRUNE_BATCH", 2)
    for _ in range(5):
        _result(TaskResultStatus.SUCCESSFUL, started_ago=timedelta(days=2), finished_ago=timedelta(days=2))
    assert task_results_tidy().pruned == 5
    assert not DBTaskResult.objects.exists()


def test_a_result_running_past_the_limit_is_marked_lost(settings):
    settings.TASK_LOST_AFTER = 3600
    stuck = _result(TaskResultStatus.RUNNING, started_ago=timedelta(hours=2))
    busy = _result(TaskResultStatus.RUNNING, started_ago=timedelta(minutes=10))

    assert task_results_tidy().lost == 1

    stuck.refresh_from_db()
    busy.refresh_from_db()
    assert stuck.status == TaskResultStatus.FAILED and stuck.exception_class_path == LOST
    assert "stopped without reporting" in stuck.traceback and stuck.finished_at is not None
    assert busy.status == TaskResultStatus.RUNNING


def test_a_starting_worker_marks_only_the_dead_workers_of_its_machine():
    me = housekeeping.worker_id()
    host = me.rpartition(":")[0]
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        dead = _result(TaskResultStatus.RUNNING, started_ago=timedelta(minutes=1), worker=f"{host}:{_dead_pid()}")
        own_pid = _result(TaskResultStatus.RUNNING, started_ago=timedelta(minutes=1), worker=me)
        living = _result(TaskResultStatus.RUNNING, started_ago=timedelta(minutes=1), worker=f"{host}:{alive.pid}")
        other_host = _result(TaskResultStatus.RUNNING, started_ago=timedelta(minutes=1), worker="other-box:1")
        named = _result(TaskResultStatus.RUNNING, started_ago=timedelta(minutes=1), worker="worker-a")

        assert lost_on_this_machine(me=me) == 2
    finally:
        alive.kill()
        alive.wait()
    status = dict(DBTaskResult.objects.values_list("pk", "status"))
    assert status[dead.pk] == status[own_pid.pk] == TaskResultStatus.FAILED
    assert status[living.pk] == status[other_host.pk] == status[named.pk] == TaskResultStatus.RUNNING


def test_servicebay_worker_clears_what_a_killed_worker_left_then_runs_the_queue():
    host = housekeeping.worker_id().rpartition(":")[0]
    orphan = _result(TaskResultStatus.RUNNING, started_ago=timedelta(minutes=3), worker=f"{host}:{_dead_pid()}")
    queued = core_task_results_tidy.enqueue()
    err = StringIO()

    call_command("worker", burst=True, stderr=err)

    orphan.refresh_from_db()
    assert orphan.status == TaskResultStatus.FAILED and orphan.exception_class_path == LOST
    assert "Marked 1 task(s) as failed" in err.getvalue()
    ran = DBTaskResult.objects.get(pk=queued.id)
    assert ran.status == TaskResultStatus.SUCCESSFUL
    assert ran.worker_ids == [housekeeping.worker_id()]


def test_the_rq_backend_leaves_task_results_to_rq(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
    assert task_results_tidy() == housekeeping.Tidied()
    assert lost_on_this_machine(me=housekeeping.worker_id()) == 0

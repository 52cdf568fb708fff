"""Housekeeping of the database task backend: task results neither grow forever nor stay "running"
after their worker died.

With ``TASK_BACKEND=database`` every task run leaves a django-tasks-db row; the journeys round alone
adds 1,440 a day. Finished rows are pruned after ``TASK_RESULTS_KEEP_DAYS`` (failed ones are kept
four times as long, for whoever investigates). A worker killed hard (SIGKILL, out of memory, a lost
machine) never reports, so its row would say RUNNING forever: rows running longer than
``TASK_LOST_AFTER`` seconds are marked failed with :class:`WorkerLost`, and a worker starting on a
machine marks at once the rows of that machine's workers that are no longer alive. Every task is
safe to run again (DESIGN §4) and the periodic ones run again on schedule, so nothing is re-queued
here: the row only stops telling an untruth.

With ``TASK_BACKEND=rq`` RQ keeps and expires its own job records, and all of this does nothing.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

PRUNE_BATCH = 1000  # rows per delete: short write transactions, SQLite's lock is the database's
FAILED_KEEP_FACTOR = 4


class WorkerLost(Exception):
    """The worker running a task stopped without reporting a result."""


LOST_TRACEBACK = (
    "The worker running this task stopped without reporting (killed, out of memory or its machine "
    "lost). The task is safe to run again; periodic tasks run again on their schedule."
)


@dataclass(frozen=True)
class Tidied:
    pruned: int = 0
    lost: int = 0


def database_backend() -> bool:
    return "django_tasks_db" in settings.TASKS["default"]["BACKEND"]


def worker_id() -> str:
    """``host:pid`` — unique among live workers, and tells a later worker on the same machine
    whether this one is still alive."""
    return f"{socket.gethostname()[:50]}:{os.getpid()}"


def _mark_lost(results, now: datetime) -> int:
    from django_tasks_db.compat import TaskResultStatus

    return results.update(
        status=TaskResultStatus.FAILED, finished_at=now, return_value=None,
        exception_class_path=f"{WorkerLost.__module__}.{WorkerLost.__qualname__}",
        traceback=LOST_TRACEBACK,
    )


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True


def task_results_tidy(*, now: datetime | None = None) -> Tidied:
    """Prune old finished task results and mark as failed those whose worker was lost."""
    if not database_backend():
        return Tidied()
    from django_tasks_db.compat import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    now = now or timezone.now()
    keep = timedelta(days=settings.TASK_RESULTS_KEEP_DAYS)
    lost = _mark_lost(
        DBTaskResult.objects.running().filter(
            started_at__lt=now - timedelta(seconds=settings.TASK_LOST_AFTER)),
        now,
    )
    old = DBTaskResult.objects.filter(
        status=TaskResultStatus.SUCCESSFUL, finished_at__lt=now - keep
    ) | DBTaskResult.objects.filter(
        status=TaskResultStatus.FAILED, finished_at__lt=now - keep * FAILED_KEEP_FACTOR
    )
    pruned = 0
    while ids := list(old.values_list("pk", flat=True)[:PRUNE_BATCH]):
        with transaction.atomic():
            pruned += DBTaskResult.objects.filter(pk__in=ids).delete()[0]
    return Tidied(pruned=pruned, lost=lost)


def lost_on_this_machine(*, me: str, now: datetime | None = None) -> int:
    """At a worker's start: mark failed the running rows of this machine's workers that are gone.

    A row's last worker id is ``host:pid`` (:func:`worker_id`). On this host, a pid that no longer
    runs — or that is this starting worker's own (a container restarts its worker under the same
    pid) — cannot still be running the task.
    """
    if not database_backend():
        return 0
    from django_tasks_db.models import DBTaskResult

    host, _, my_pid = me.rpartition(":")
    gone = []
    for pk, worker_ids in DBTaskResult.objects.running().values_list("pk", "worker_ids"):
        last_host, _, pid = (worker_ids[-1] if worker_ids else "").rpartition(":")
        if last_host == host and pid.isdigit() and (pid == my_pid or not _pid_alive(int(pid))):
            gone.append(pk)
    if not gone:
        return 0
    return _mark_lost(DBTaskResult.objects.running().filter(pk__in=gone), now or timezone.now())

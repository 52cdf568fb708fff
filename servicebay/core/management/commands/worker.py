"""``servicebay worker``: the background worker of the configured task backend.

``TASK_BACKEND=database`` runs django-tasks' ``db_worker``; ``TASK_BACKEND=rq`` runs an RQ worker on
Redis (``REDIS_URL``) with django-tasks-rq's job class, on as many machines as the work needs.
"""

from __future__ import annotations

import socket
import uuid

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from servicebay.core import housekeeping
from servicebay.core.schedule import PERIODIC

RQ_JOB_CLASS = "django_tasks_rq.Job"


class Command(BaseCommand):
    help = "Run a background worker for the configured task backend (database or RQ)."

    def add_arguments(self, parser):
        parser.add_argument("--name", default=None,
                            help="Worker name, shown in task results; unique among live workers "
                                 "(default: the host name and a random suffix).")
        parser.add_argument("--burst", action="store_true",
                            help="Run what is queued, then exit.")

    def handle(self, *args, name: str | None, burst: bool, **options):
        backend = settings.TASKS["default"]
        if "django_tasks_db" in backend["BACKEND"]:
            # host:pid unless named: a worker starting later on this machine can tell this one is
            # gone and mark what it left "running" as lost (core/housekeeping.py).
            worker_id = name or housekeeping.worker_id()
            lost = housekeeping.lost_on_this_machine(me=worker_id)
            if lost:
                self.stderr.write(f"Marked {lost} task(s) as failed: their worker on this machine is gone.")
            call_command("db_worker", batch=burst, worker_id=worker_id, verbosity=options["verbosity"])
            return
        # An RQ worker forks once per job: import the task modules (and what they pull in, such as
        # dlt) here, once, so each job starts warm instead of importing them again.
        for job in PERIODIC:
            job.load()
        # RQ refuses a name whose registration is still alive; a worker killed hard keeps its
        # name for the registration's TTL, so a restarted one gets a fresh suffix.
        name = name or f"{socket.gethostname()}-{uuid.uuid4().hex[:8]}"
        # with_scheduler: RQ moves tasks deferred with ``run_after`` to the queue when they are due
        # (one worker at a time holds the scheduler lock).
        call_command(
            "rqworker", *backend.get("QUEUES", ["default"]), job_class=RQ_JOB_CLASS, name=name,
            burst=burst, with_scheduler=True, verbosity=options["verbosity"],
        )

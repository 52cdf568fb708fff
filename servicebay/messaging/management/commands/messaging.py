"""``servicebay messaging run|reconcile|dry-run``: the journey engine and the outbox by hand."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError

from servicebay.messaging import journeys, outbox
from servicebay.messaging.models import Journey
from servicebay.messaging.tasks import messaging_run_once

PLAN_EVERY = 3600  # seconds between date-trigger planning passes in --loop mode


class Command(BaseCommand):
    help = "Run the messaging engine: consume events, advance journeys, dispatch due messages."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        run = sub.add_parser("run", help="One round (or --loop) of events, journeys and dispatch.")
        run.add_argument("--loop", action="store_true", help="Keep running, every --every seconds.")
        run.add_argument("--every", type=float, default=30.0)
        run.add_argument("--no-dispatch", action="store_true", help="Plan only; send nothing.")
        sub.add_parser("reconcile", help="Expire lost leases and reconcile unknown sends.")
        dry = sub.add_parser("dry-run", help="Who would get what over the next days.")
        dry.add_argument("journey", help="Journey code.")
        dry.add_argument("--days", type=int, default=7)

    def handle(self, *args, action: str, **options):
        if action == "run":
            planned_at = float("-inf")
            while True:
                plan = time.monotonic() - planned_at >= PLAN_EVERY
                summary = messaging_run_once(dispatch=not options["no_dispatch"], plan_dates=plan)
                planned_at = time.monotonic() if plan else planned_at
                self.stdout.write(" ".join(f"{k}={v}" for k, v in summary.items()))
                if not options["loop"]:
                    return
                time.sleep(options["every"])
        if action == "reconcile":
            expired = outbox.outbox_expire_leases()
            stats = outbox.outbox_reconcile()
            self.stdout.write(f"expired={expired} sent={stats.sent} requeued={stats.retried}")
            return
        journey = Journey.objects.filter(code=options["journey"]).first()
        if journey is None:
            raise CommandError(f"No journey with code {options['journey']!r}.")
        rows = journeys.journey_dry_run(journey=journey, days=options["days"])
        for row in rows:
            self.stdout.write(f"{row.when:%Y-%m-%d %H:%M} UTC  {row.customer}  {row.channel or '-'}  "
                              f"{row.status}  {row.reason or row.preview[:60]}")
        self.stdout.write(f"{len(rows)} message(s)")

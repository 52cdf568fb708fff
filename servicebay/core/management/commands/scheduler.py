import time

from django.core.management.base import BaseCommand

from servicebay.core.schedule import PERIODIC, due_jobs, logger


class Command(BaseCommand):
    help = "Enqueue periodic tasks (journeys, snapshots, warehouse sync, points expiry) on schedule."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Enqueue what is due once and exit.")
        parser.add_argument("--tick", type=float, default=5.0, help="Seconds between checks.")

    def handle(self, *args, once: bool, tick: float, **options):
        last_run: dict[str, float] = {}
        while True:
            now = time.monotonic()
            for job in due_jobs(last_run, now):
                try:
                    job.load().enqueue()
                except Exception:  # a broken job must not stop the others
                    logger.exception("could not enqueue %s", job.task_path)
                last_run[job.task_path] = now
            if once:
                self.stdout.write(f"enqueued {len(PERIODIC)} periodic job(s)")
                return
            time.sleep(tick)

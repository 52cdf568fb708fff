"""``servicebay segments rebuild-stats | snapshot-due``."""

from __future__ import annotations

from django.core.management.base import BaseCommand
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from servicebay.core.actors import Actor
from servicebay.segments.services import customer_stats_rebuild, snapshots_take_due
from servicebay.shop.models import Customer


class Command(BaseCommand):
    help = "Segments maintenance: rebuild the per-customer stats, take due snapshots."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        rebuild = sub.add_parser("rebuild-stats", help="Recompute every customer's aggregates.")
        rebuild.add_argument("--batch-size", type=int, default=5000)
        rebuild.add_argument("--quiet", action="store_true", help="No progress bar.")
        sub.add_parser("snapshot-due", help="Snapshot the dynamic segments whose schedule is due.")

    def handle(self, *args, action: str, **options):
        if action == "rebuild-stats":
            self._rebuild(options["batch_size"], options["quiet"])
        else:
            taken = snapshots_take_due(actor=Actor.system("cli:segments"))
            self.stdout.write(f"took {len(taken)} snapshot(s)")

    def _rebuild(self, batch_size: int, quiet: bool) -> None:
        total = Customer.objects.count()
        with Progress(
            TextColumn("rebuilding customer stats"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), disable=quiet or not self.stdout.isatty(),
        ) as progress:
            bar = progress.add_task("stats", total=total)
            done = customer_stats_rebuild(
                batch_size=batch_size, progress=lambda n: progress.advance(bar, n)
            )
        self.stdout.write(f"rebuilt stats for {done} customer(s)")

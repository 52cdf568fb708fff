"""``servicebay warehouse sync | status``."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from servicebay.warehouse.choices import RunStatus
from servicebay.warehouse.selectors import sync_run_list, table_state_list
from servicebay.warehouse.services import SyncBusy, warehouse_sync


class Command(BaseCommand):
    help = "Incremental sync to the analytics warehouse (dlt; DuckDB file by default)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sync = sub.add_parser("sync", help="Load what changed since the last successful run.")
        sync.add_argument("--full", action="store_true", help="Reload every table from scratch.")
        sync.add_argument("--table", action="append", dest="tables", metavar="NAME",
                          help="Only this table (repeatable).")
        group = sync.add_mutually_exclusive_group()
        group.add_argument("--pseudonymise", dest="pseudonymise", action="store_true", default=None,
                           help="Replace personal fields with keyed hashes.")
        group.add_argument("--no-pseudonymise", dest="pseudonymise", action="store_false")
        sync.add_argument("--destination", help="A dlt destination name (default from settings).")
        sync.add_argument("--quiet", action="store_true", help="No progress bar.")
        sub.add_parser("status", help="The last runs and each table's cursor.")

    def handle(self, *args, action: str, **options):
        if action == "status":
            return self._status()
        return self._sync(options)

    def _sync(self, options) -> None:
        console = Console(file=self.stdout, force_terminal=None)
        show = not options["quiet"] and self.stdout.isatty()
        with Progress(TextColumn("{task.description:<22}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=console, disable=not show) as bar:
            tasks: dict[str, int] = {}

            def progress(table: str, done: int, total: int | None) -> None:
                if table not in tasks:
                    tasks[table] = bar.add_task(table, total=total)
                bar.update(tasks[table], advance=done, total=total)

            try:
                run = warehouse_sync(
                    triggered_by="cli", full=options["full"], tables=options["tables"],
                    pseudonymise=options["pseudonymise"], destination=options["destination"],
                    progress=progress,
                )
            except (SyncBusy, ValueError) as exc:
                raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"sync {run.pk} {run.status}: {run.rows_upserted} row(s) loaded, "
            f"{run.rows_deleted} deleted, into {run.destination}"
        )
        for name, info in sorted(run.tables.items()):
            self.stdout.write(f"  {name:<22} {info['mode']:<11} +{info['upserted']} -{info['deleted']}")
        if run.status != RunStatus.SUCCEEDED:
            raise CommandError(f"sync failed: {run.error}")

    def _status(self) -> None:
        console = Console(file=self.stdout)
        runs = Table("run", "status", "mode", "started", "rows", "deleted", title="Last runs")
        for run in sync_run_list()[:10]:
            runs.add_row(str(run.pk), run.status, run.mode, f"{run.started_at:%Y-%m-%d %H:%M:%S}",
                         str(run.rows_upserted), str(run.rows_deleted))
        console.print(runs)
        states = Table("table", "cursor", "last synced", "rows loaded", title="Tables")
        for state in table_state_list():
            states.add_row(state.table_name, str(state.cursor),
                           f"{state.last_synced_at:%Y-%m-%d %H:%M:%S}" if state.last_synced_at else "never",
                           str(state.rows_loaded_total))
        console.print(states)

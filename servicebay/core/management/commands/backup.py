"""``servicebay backup PATH``: an online, consistent copy of the embedded SQLite database."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from rich.progress import Progress

from servicebay.core.backups import sqlite_backup, sqlite_database_path


class Command(BaseCommand):
    help = (
        "Copy the SQLite database to PATH with SQLite's online backup API (safe while the app "
        "runs) and verify the copy. For PostgreSQL use pg_dump (see README, 'Backups')."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="Where to write the backup file.")
        parser.add_argument("--force", action="store_true", help="Overwrite an existing file.")

    def handle(self, *args, path: str, force: bool, **options):
        if connection.vendor != "sqlite":
            raise CommandError("backup copies the SQLite database; for PostgreSQL use pg_dump -Fc.")
        target = Path(path)
        if target.exists() and not force:
            raise CommandError(f"{target} exists; pass --force to overwrite it.")
        with Progress(transient=True, disable=options["verbosity"] < 1) as bar:
            pages = bar.add_task("copying pages", total=None)
            try:
                report = sqlite_backup(
                    sqlite_database_path(), target,
                    progress=lambda remaining, total: bar.update(pages, total=total, completed=total - remaining),
                )
            except (OSError, sqlite3.Error) as exc:
                raise CommandError(f"backup failed: {exc}") from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"backed up {report.tables} tables, {report.rows} rows to {target} (verified)"
            )
        )

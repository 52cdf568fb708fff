"""``servicebay restore PATH``: replace the SQLite database with a verified backup."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from servicebay.core.backups import sqlite_backup, sqlite_database_path


class Command(BaseCommand):
    help = "Restore the SQLite database from a file made by `servicebay backup` (stop the app first)."

    def add_arguments(self, parser):
        parser.add_argument("path", help="The backup file.")
        parser.add_argument("--yes", action="store_true", help="Do not ask for confirmation.")

    def handle(self, *args, path: str, yes: bool, **options):
        if connection.vendor != "sqlite":
            raise CommandError("restore replaces the SQLite database; for PostgreSQL use pg_restore.")
        source = Path(path)
        if not source.is_file():
            raise CommandError(f"{source} is not a file.")
        try:
            with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as probe:
                if probe.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                    raise CommandError(f"{source} fails SQLite's integrity check.")
                probe.execute("SELECT count(*) FROM django_migrations").fetchone()
        except sqlite3.DatabaseError as exc:
            raise CommandError(f"{source} is not a ServiceBay database: {exc}") from exc
        target = sqlite_database_path()
        if not yes and input(f"Replace {target} with {source}? [y/N] ").strip().lower() != "y":
            raise CommandError("restore cancelled")
        connection.close()
        try:
            report = sqlite_backup(source, target, standalone=False)
        except (OSError, sqlite3.Error) as exc:
            raise CommandError(f"restore failed: {exc}") from exc
        self.stdout.write(
            self.style.SUCCESS(f"restored {report.tables} tables, {report.rows} rows from {source}")
        )

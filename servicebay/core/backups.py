"""Online backup of the embedded SQLite database, verified by comparing row counts table by table."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings


@dataclass(frozen=True)
class BackupReport:
    tables: int
    rows: int


class BackupMismatch(sqlite3.DatabaseError):
    pass


def sqlite_database_path() -> Path:
    return Path(settings.DATABASES["default"]["NAME"])


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=30)
    # Django adds REGEXP to its own SQLite connections; CHECK constraints may use it.
    conn.create_function(
        "REGEXP", 2, lambda pattern, value: value is not None and re.search(pattern, str(value)) is not None,
        deterministic=True,
    )
    return conn


def _row_counts(conn: sqlite3.Connection) -> dict[str, int]:
    tables = [
        name
        for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
    ]
    # Table names come from sqlite_master, not from a user; quoting keeps odd names intact.
    return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}  # noqa: S608


def sqlite_backup(
    source: Path,
    target: Path,
    *,
    progress: Callable[[int, int], None] | None = None,
    standalone: bool = True,
) -> BackupReport:
    """Copy ``source`` to ``target`` page by page while others keep writing, then verify.

    The backup API copies a consistent snapshot; the verification compares the row count of every
    table in a read transaction on the source against the copy.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    src = _connect(source)
    dst = _connect(target)
    try:
        src.execute("BEGIN")  # hold one snapshot for the copy and the comparison
        src.backup(dst, pages=256, progress=(lambda _s, r, t: progress(r, t)) if progress else None)
        if standalone:
            # A backup is one self-contained file; a restored live database stays in WAL mode.
            dst.execute("PRAGMA journal_mode=DELETE")
        expected = _row_counts(src)
        src.execute("COMMIT")
        actual = _row_counts(dst)
        if dst.execute("PRAGMA integrity_check").fetchone()[0] != "ok" or expected != actual:
            raise BackupMismatch("the copy does not match the source")
        return BackupReport(tables=len(actual), rows=sum(actual.values()))
    finally:
        dst.close()
        src.close()

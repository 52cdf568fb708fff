"""The test database as a worker subprocess sees it, for tests that start real processes.

On PostgreSQL the subprocess uses the test database itself (the test must use
``django_db(transaction=True)`` so its rows are committed). On SQLite the test database lives in
one connection of this process, so it is copied to a file (``VACUUM INTO``) that the subprocess
opens; the test then reads and writes that file through ``execute``.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
from django.db import connection


def pg_connect() -> psycopg.Connection:
    """A separate autocommit connection to the PostgreSQL test database."""
    s = connection.settings_dict
    return psycopg.connect(host=s["HOST"] or "127.0.0.1", port=s["PORT"] or 5432,
                           user=s["USER"], password=s["PASSWORD"] or None, dbname=s["NAME"],
                           autocommit=True)


class Source:
    """``url`` for the subprocess's DATABASE_URL; ``execute(sql)`` to look at what it wrote."""

    def __init__(self, tmp_path: Path, filename: str = "source.sqlite3") -> None:
        if connection.vendor == "postgresql":
            s = connection.settings_dict
            self.url = f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
            self.sqlite_path = None
        else:
            self.sqlite_path = tmp_path / filename
            with connection.cursor() as cursor:
                cursor.execute("VACUUM INTO %s", [str(self.sqlite_path)])
            self.url = f"sqlite:///{self.sqlite_path}"

    def execute(self, sql: str) -> list[tuple]:
        if self.sqlite_path is not None:
            con = sqlite3.connect(self.sqlite_path, timeout=30)
            try:
                with con:
                    return con.execute(sql).fetchall()
            finally:
                con.close()
        with pg_connect() as con:
            cur = con.execute(sql)
            return cur.fetchall() if cur.description else []

    query = execute

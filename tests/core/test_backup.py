"""`servicebay backup` / `restore` end to end, in subprocesses on a throw-away SQLite file."""

import os
import sqlite3
import subprocess
import sys

import pytest
from django.db import connection

pytestmark = pytest.mark.skipif(
    connection.vendor != "sqlite", reason="backup/restore are for the embedded SQLite database"
)


def servicebay(tmp_path, *args, input_text=None):
    env = {**os.environ, "SERVICEBAY_VAR_DIR": str(tmp_path / "var")}
    env.pop("DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "servicebay.cli", *args], env=env, capture_output=True, text=True,
        input=input_text, timeout=120, check=False,
    )


def execute(path, sql):
    conn = sqlite3.connect(path)
    try:
        with conn:
            return conn.execute(sql).fetchall()
    finally:
        conn.close()


@pytest.mark.slow
def test_backup_copies_a_verified_snapshot_and_restore_brings_it_back(tmp_path):
    assert servicebay(tmp_path, "migrate", "-v0").returncode == 0
    live = tmp_path / "var" / "servicebay.sqlite3"
    execute(
        live,
        "INSERT INTO shop_location (name, time_zone, currency, address, phone, distance_unit,"
            " quiet_hours_start, quiet_hours_end, next_job_card_number, created_at)"
        " VALUES ('North', 'America/Chicago', 'USD', '', '', 'mi', '21:00', '08:00', 1, '2026-01-01')",
    )
    backup = tmp_path / "backup.sqlite3"
    done = servicebay(tmp_path, "backup", str(backup))
    assert done.returncode == 0, done.stderr
    assert "verified" in done.stdout
    assert execute(backup, "SELECT name FROM shop_location") == [("North",)]

    execute(live, "DELETE FROM shop_location")
    done = servicebay(tmp_path, "restore", str(backup), "--yes")
    assert done.returncode == 0, done.stderr
    assert execute(live, "SELECT name FROM shop_location") == [("North",)]


@pytest.mark.slow
def test_backup_refuses_to_overwrite_and_restore_refuses_a_non_database(tmp_path):
    assert servicebay(tmp_path, "migrate", "-v0").returncode == 0
    existing = tmp_path / "exists.sqlite3"
    existing.write_text("x")
    done = servicebay(tmp_path, "backup", str(existing))
    assert done.returncode != 0
    assert done.stderr.strip().splitlines()[-1].startswith("CommandError: ")
    assert "--force" in done.stderr

    done = servicebay(tmp_path, "restore", str(existing), "--yes")
    assert done.returncode != 0
    assert "not a ServiceBay database" in done.stderr

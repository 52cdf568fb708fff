"""The command line: a database failure is one readable line and a non-zero exit, not a traceback."""

import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

ROOT = Path(settings.BASE_DIR)


def _run(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=60, check=False)


def test_unreachable_database_is_one_line_and_exit_1():
    result = _run("migrate", DATABASE_URL="postgres://postgres@127.0.0.1:1/nothing")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("manage.py: database error:")
    assert "Traceback" not in result.stderr


def test_traceback_flag_shows_the_traceback():
    result = _run("migrate", "--traceback", DATABASE_URL="postgres://postgres@127.0.0.1:1/nothing")
    assert result.returncode != 0
    assert "Traceback" in result.stderr

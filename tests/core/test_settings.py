"""The production configuration passes Django's deployment checks."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

from django.conf import settings


def test_deploy_check_passes_with_production_environment(tmp_path):
    # A clean environment: only what a production host sets, nothing leaked from other tests.
    env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}
    env.update(
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(60),
        ALLOWED_HOSTS="shop.example.com",
        SERVICEBAY_HTTPS="true",
        DATABASE_URL="postgres://servicebay@db.example.com:5432/servicebay",
        SERVICEBAY_VAR_DIR=str(tmp_path),
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=Path(settings.BASE_DIR), env=env, capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout

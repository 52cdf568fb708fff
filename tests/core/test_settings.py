"""The production configuration passes Django's deployment checks."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

from django.conf import settings

PROVIDERS = {
    "SMS_API_URL": "https://api.twilio.com/2010-04-01", "SMS_ACCOUNT_SID": "AC123", "SMS_API_KEY": "k",
    "WHATSAPP_API_URL": "https://api.twilio.com/2010-04-01", "WHATSAPP_ACCOUNT_SID": "AC123",
    "WHATSAPP_API_KEY": "k",
}


def _deploy_check(tmp_path, **extra: str) -> subprocess.CompletedProcess:
    # A clean environment: only what a production host sets, nothing leaked from other tests.
    env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}
    env.update(
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(60),
        ALLOWED_HOSTS="shop.example.com",
        SERVICEBAY_HTTPS="true",
        DATABASE_URL="postgres://servicebay@db.example.com:5432/servicebay",
        SERVICEBAY_VAR_DIR=str(tmp_path),
        **extra,
    )
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=Path(settings.BASE_DIR), env=env, capture_output=True, text=True, timeout=60, check=False,
    )


def test_deploy_check_passes_with_production_environment(tmp_path):
    result = _deploy_check(tmp_path, **PROVIDERS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_deploy_check_warns_when_a_channel_has_no_provider(tmp_path):
    result = _deploy_check(tmp_path)
    assert result.returncode != 0
    assert "messaging.W002" in result.stderr + result.stdout
    assert "SMS_API_URL is empty" in result.stderr + result.stdout

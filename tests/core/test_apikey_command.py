"""``servicebay apikey create|list|revoke``."""

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.test import Client

from servicebay.core.models import ApiKey
from tests import factories

pytestmark = pytest.mark.django_db


def _run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("apikey", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def _customers(key: str) -> int:
    return Client().get("/api/v1/customers", headers={"Authorization": f"Bearer {key}"}).status_code


def test_create_prints_the_key_once_with_a_warning_and_the_key_works():
    out, err = _run("create", "Mailchimp sync", "--scope", "read", "--scope", "write")
    key = out.strip()
    assert key.startswith("sb_") and "\n" not in key
    assert err.count("\n") == 1 and "will not be shown again" in err
    assert _customers(key) == 200
    stored = ApiKey.objects.get()
    assert (stored.name, stored.scopes) == ("Mailchimp sync", ["read", "write"])
    listing, _ = _run("list")
    assert key not in listing and stored.prefix in listing


def test_list_shows_name_scopes_and_status():
    key, _ = factories.make_api_key("catalog", name="PIM feed")
    out, _ = _run("list")
    header, row = out.strip().splitlines()
    assert "PREFIX" in header
    assert f"sb_{key.prefix}" in row and "PIM feed" in row and "catalog" in row and "active" in row


def test_list_without_keys_says_so():
    assert _run("list")[0].strip() == "No API keys."


@pytest.mark.parametrize("form", ["{prefix}", "sb_{prefix}", "{plaintext}"])
def test_revoke_by_prefix_stops_the_key(form):
    key, plaintext = factories.make_api_key("read")
    assert _customers(plaintext) == 200
    out, _ = _run("revoke", form.format(prefix=key.prefix, plaintext=plaintext))
    assert "Revoked" in out
    assert _customers(plaintext) == 401
    assert "revoked" in _run("list")[0]


def test_revoking_an_unknown_prefix_is_a_command_error():
    with pytest.raises(CommandError, match="No API key with prefix"):
        _run("revoke", "deadbeef")


def test_revoking_twice_is_a_command_error():
    key, _ = factories.make_api_key("read")
    _run("revoke", key.prefix)
    with pytest.raises(CommandError, match="already revoked"):
        _run("revoke", key.prefix)


def test_create_without_a_scope_is_a_command_error():
    with pytest.raises(CommandError, match="scope"):
        _run("create", "No scope")
    assert not ApiKey.objects.exists()


def test_unknown_scope_exits_non_zero_with_one_line(tmp_path):
    # The real command line, in its own process: exit status and stderr as a shell sees them.
    env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'cli.sqlite3'}", SERVICEBAY_VAR_DIR=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "manage.py", "apikey", "create", "Typo", "--scope", "raed"],
        cwd=Path(settings.BASE_DIR), env=env, capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode != 0
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "raed" in lines[0] and "read" in lines[0]

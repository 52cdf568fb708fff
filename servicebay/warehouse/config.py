"""Warehouse settings, from Django settings when set there, else from the environment.

- ``WAREHOUSE_DESTINATION``: any dlt destination name (``duckdb`` by default, ``postgres``,
  ``bigquery``, ``snowflake``, ``motherduck``, ``filesystem`` …). Credentials for anything but the
  default DuckDB file come from dlt's own environment variables, e.g.
  ``DESTINATION__POSTGRES__CREDENTIALS=postgresql://user:pw@host:5432/db``.
- ``WAREHOUSE_DUCKDB_PATH``: the DuckDB file (default ``var/warehouse.duckdb``).
- ``WAREHOUSE_DATASET``: dataset / schema name (default ``servicebay``).
- ``WAREHOUSE_PIPELINES_DIR``: dlt's working folder (default ``var/dlt``).
- ``WAREHOUSE_PSEUDONYMISE``: ``true`` replaces personal fields with keyed hashes.
- ``WAREHOUSE_PSEUDONYM_KEY``: the HMAC key for that (default derived from ``SECRET_KEY``).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings


def _setting(name: str, default: str = "") -> str:
    value = getattr(settings, name, None)
    if value is None:
        value = os.environ.get(name, default)
    return str(value)


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class WarehouseConfig:
    destination: str
    duckdb_path: Path
    dataset: str
    pipelines_dir: Path
    pseudonymise: bool
    pseudonym_key: bytes

    @property
    def label(self) -> str:
        if self.destination == "duckdb":
            return f"duckdb:{self.duckdb_path}"
        return self.destination


def warehouse_config(*, pseudonymise: bool | None = None, destination: str | None = None) -> WarehouseConfig:
    var = Path(settings.VAR_DIR)
    key = _setting("WAREHOUSE_PSEUDONYM_KEY")
    derived = hmac.new(settings.SECRET_KEY.encode(), b"servicebay.warehouse.pseudonym",
                       hashlib.sha256).digest()
    return WarehouseConfig(
        destination=destination or _setting("WAREHOUSE_DESTINATION", "duckdb"),
        duckdb_path=Path(_setting("WAREHOUSE_DUCKDB_PATH", str(var / "warehouse.duckdb"))),
        dataset=_setting("WAREHOUSE_DATASET", "servicebay"),
        pipelines_dir=Path(_setting("WAREHOUSE_PIPELINES_DIR", str(var / "dlt"))),
        pseudonymise=_bool(_setting("WAREHOUSE_PSEUDONYMISE", "false")) if pseudonymise is None
        else pseudonymise,
        pseudonym_key=key.encode() if key else derived,
    )

"""The fault-injection report: every fault test records what it did, the run prints one table.

Wired up in ``tests/conftest.py`` (the ``fault_report`` fixture and the two session hooks).

A fault test takes the ``fault_report`` fixture and calls ``fault_report.add(scenario, runs=...,
faults=..., anomalies=..., detail="...")`` once it has checked its invariants. Records go to
``test-artifacts/faults/<database>-<worker>.jsonl`` (one file per xdist worker, so parallel workers
never interleave writes) and the terminal summary prints them as a table, with the totals. A test
still asserts ``anomalies == 0`` itself: the report is the evidence, the assertion is the check.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "faults"


def _database() -> str:
    from django.conf import settings

    return settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]


@dataclass
class FaultRecord:
    scenario: str
    database: str
    runs: int
    faults: int
    anomalies: int
    detail: str = ""


class FaultReport:
    def __init__(self, path: Path) -> None:
        self.path = path

    def add(self, scenario: str, *, runs: int, faults: int, anomalies: int, detail: str = "") -> None:
        record = FaultRecord(scenario, _database(), runs, faults, anomalies, detail)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as out:
            out.write(json.dumps(asdict(record)) + "\n")


def fault_report_for_worker() -> FaultReport:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return FaultReport(ARTIFACTS / f"{_database()}-{worker}.jsonl")


def clear_previous(session) -> None:
    # Only the controller (or a run without xdist) clears the previous run's records.
    if not hasattr(session.config, "workerinput") and ARTIFACTS.exists():
        for path in ARTIFACTS.glob(f"{_database()}-*.jsonl"):
            path.unlink()


def print_summary(terminalreporter, config) -> None:
    if hasattr(config, "workerinput") or not ARTIFACTS.exists():
        return
    records = [
        FaultRecord(**json.loads(line))
        for path in sorted(ARTIFACTS.glob(f"{_database()}-*.jsonl"))
        for line in path.read_text().splitlines()
        if line.strip()
    ]
    if not records:
        return
    tr = terminalreporter
    tr.section(f"fault injection ({records[0].database})")
    tr.write_line(f"{'scenario':<58} {'runs':>5} {'faults':>7} {'anomalies':>9}")
    for r in records:
        tr.write_line(f"{r.scenario[:58]:<58} {r.runs:>5} {r.faults:>7} {r.anomalies:>9}"
                      + (f"  {r.detail}" if r.detail else ""))
    tr.write_line(f"{'total':<58} {sum(r.runs for r in records):>5} "
                  f"{sum(r.faults for r in records):>7} {sum(r.anomalies for r in records):>9}")

"""The benchmark harness: results judge budgets right, bench_shop's hand-written SQL returns exactly
the rows ``customer_search`` returns (on whichever database the tests run), the one report holds
every result of every database (table + chart), and ``python -m bench`` runs its children end to end."""

from __future__ import annotations

import io
import math
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from bench import bench_shop
from bench.__main__ import LARGE, parse_args, plan
from bench.core import Context, Result
from bench.report import (
    DatabaseRun,
    Machine,
    Report,
    render_svg,
    report_write,
    row_from_result,
    run_from_json,
    run_to_json,
)
from servicebay.shop.models import Customer

REPO = Path(settings.BASE_DIR)
SVG = "{http://www.w3.org/2000/svg}"


def _svg(text: str) -> ET.Element:
    return ET.fromstring(text)  # noqa: S314 - the chart this test just wrote, not untrusted input


def test_a_result_over_its_ratio_fails_and_within_passes():
    assert Result("q", value=3.0, unit="ms", baseline=2.0, budget_ratio=2.0).passed
    assert not Result("q", value=5.0, unit="ms", baseline=2.0, budget_ratio=2.0).passed


def test_a_result_over_its_absolute_ceiling_fails_whatever_the_ratio():
    assert not Result("q", value=60.0, unit="ms", baseline=59.0, budget_ratio=2.0, budget_abs=50).passed


def test_a_throughput_ratio_is_baseline_over_value():
    result = Result("t", value=100.0, unit="rows/s", baseline=300.0, budget_ratio=4.0, higher_is_better=True)
    assert result.ratio == 3.0 and result.passed


@pytest.mark.django_db
def test_shop_benchmark_raw_sql_matches_the_selector():
    call_command("seed", "--customers", "60", "--seed", "9", "--no-users",
                 "--as-of", "2026-03-02T15:30:00+00:00", stdout=io.StringIO())
    ctx = Context(customers=60, vendor=connection.vendor, database="test", repeat=1)
    for label, query in bench_shop.search_terms():
        kind = {"phone": "phone", "email": "email", "VIN": "vin"}.get(label, "name")
        found = bench_shop.orm_search(query)
        assert found, label
        assert bench_shop.raw_search(kind, query) == found, label
    throughput = bench_shop.seed_result(ctx)
    assert throughput.value > 0 and throughput.baseline > throughput.value
    assert Customer.objects.count() == 60  # the sample was rolled back


# -- the report ----------------------------------------------------------------------------------

def _run(database: str, *, slow_search: float) -> DatabaseRun:
    """Four results: a pass, a ratio failure, an absolute-ceiling failure, a crashed benchmark."""
    results = [
        ("bench_shop", Result("customer search: phone", value=slow_search, unit="ms", baseline=2.0,
                              budget_ratio=2.0, budget_abs=50)),
        ("bench_segments", Result("segment count: all", value=3.0, unit="ms", baseline=2.5, budget_ratio=1.5,
                                  failed=database == "postgresql",
                                  note="rows differ" if database == "postgresql" else "")),
        ("bench_segments", Result("export CSV peak Python memory", value=80.0, unit="MiB", baseline=64.0,
                                  budget_ratio=2.0, budget_abs=64.0)),
        ("bench_warehouse", Result("bench_warehouse: crashed", value=0.0, unit="", baseline=0.0,
                                   budget_ratio=0.0, note="OperationalError: a | pipe", failed=True)),
    ]
    return DatabaseRun(database=database, location=f"{database}-place", engine=database, customers=100,
                       seed_seconds=None if database == "sqlite" else 30.0, seed_rows=1234, seconds=60.0,
                       load_start=(1.0, 0.5, 0.25), load_end=(2.0, 1.0, 0.5),
                       rows=[row_from_result(r, module=m, database=database) for m, r in results])


def _report() -> Report:
    machine = Machine(cores=2, cpu="test cpu", memory_gib=4.0, python="3.11", load_start=(0.5, 0.4, 0.3),
                      load_end=(3.5, 2.5, 1.5))
    return Report(started=datetime(2026, 11, 27, 12, 0, tzinfo=UTC), customers=100, repeat=3, machine=machine,
                  runs=[_run("sqlite", slow_search=3.0), _run("postgresql", slow_search=9.0)])


def _table(markdown: str) -> list[list[str]]:
    """The results table's body rows, split into cells."""
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| capability | metric | database |"))
    body = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        body.append([cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]])
    return body


def test_report_table_has_every_result_of_both_databases_side_by_side_with_failures_marked(tmp_path):
    report = _report()
    written = report_write(report, tmp_path)
    assert {p.name for p in written} == {"latest.md", "latest.svg", "2026-11-27T1200Z-100.md",
                                         "2026-11-27T1200Z-100.svg"}
    markdown = (tmp_path / "latest.md").read_text()
    rows = _table(markdown)
    assert len(rows) == 8 and all(len(cells) == 8 for cells in rows)
    # each metric's two databases are adjacent, in the order the benchmarks measured them
    assert [(r[1].split(" (")[0], r[2]) for r in rows[:2]] == [("customer search: phone", "SQLite"),
                                                                ("customer search: phone", "PostgreSQL")]
    verdicts = {(r[1].split(" (")[0], r[2]): r[7] for r in rows}
    assert verdicts[("customer search: phone", "SQLite")] == "pass"
    assert verdicts[("customer search: phone", "PostgreSQL")] == "**FAIL** (ratio over 2x)"
    assert verdicts[("segment count: all", "SQLite")] == "pass"
    assert verdicts[("segment count: all", "PostgreSQL")] == "**FAIL** (check failed)"
    assert verdicts[("export CSV peak Python memory", "SQLite")] == "**FAIL** (over 64 MiB)"
    assert verdicts[("bench_warehouse: crashed", "PostgreSQL")] == "**FAIL** (check failed)"
    assert "a \\| pipe" in markdown  # a note cannot break the table
    assert "**2 pass / 6 fail**" in markdown
    assert "0.50 / 0.40 / 0.30 at start, 3.50 / 2.50 / 1.50 at end" in markdown and "shared" in markdown
    assert "seeded now: 1,234 rows in 0.5 min" in markdown and "reused" in markdown
    assert "](latest.svg)" in markdown
    assert "](2026-11-27T1200Z-100.svg)" in (tmp_path / "2026-11-27T1200Z-100.md").read_text()


def test_report_chart_is_well_formed_svg_with_one_bar_per_result_coloured_by_verdict(tmp_path):
    report = _report()
    report_write(report, tmp_path)
    root = _svg((tmp_path / "latest.svg").read_text())
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    assert root.find(f"{SVG}title").text.startswith("ServiceBay benchmarks")
    assert "2 pass, 6 fail" in root.find(f"{SVG}desc").text
    groups = [g for g in root.iter(f"{SVG}g") if "result" in g.get("class", "").split()]
    assert len(groups) == 8 == len(report.rows)
    bars = [rect for g in groups for rect in g.iter(f"{SVG}rect") if rect.get("class") == "bar"]
    assert len(bars) == 8
    budget_marks = [len([x for x in g.iter(f"{SVG}line") if x.get("class") == "budget"]) for g in groups]
    assert budget_marks == [1, 1, 1, 1, 1, 1, 0, 0]  # the crashed benchmark has no budget to mark
    failing = [g for g in groups if "fail" in g.get("class").split()]
    assert len(failing) == 6
    assert {g.find(f"{SVG}rect[@class='bar']").get("fill") for g in failing} == {"#cf222e"}
    assert all("FAIL" in "".join(g.itertext()) for g in failing)
    assert {g.get("data-database") for g in groups} == {"sqlite", "postgresql"}


def test_chart_puts_a_slower_result_further_right_on_a_log_scale():
    svg = _svg(render_svg(_report()))
    widths = {}
    for g in svg.iter(f"{SVG}g"):
        title = g.find(f"{SVG}title")
        if title is not None and "customer search: phone" in title.text:
            widths[g.get("data-database")] = float(g.find(f"{SVG}rect[@class='bar']").get("width"))
    # ratios 1.5x and 4.5x: three times the ratio, the same distance in log space as 1.5 -> 4.5
    assert widths["postgresql"] > widths["sqlite"] > 0
    assert widths["postgresql"] - widths["sqlite"] == pytest.approx(
        widths["sqlite"] * math.log(3) / math.log(1.5), rel=0.02)


def test_a_failed_row_says_every_part_of_the_budget_it_missed():
    both = Result("plan", value=9.0, unit="ms", baseline=1.0, budget_ratio=4.0, failed=True)
    ceiling = Result("search", value=60.0, unit="ms", baseline=59.0, budget_ratio=2.0, budget_abs=50)
    slow = Result("send", value=100.0, unit="msg/s", baseline=90.0, budget_ratio=2.0, budget_abs=200,
                  higher_is_better=True)
    assert row_from_result(both, module="bench_messaging", database="sqlite").why_failed == \
        "check failed; ratio over 4x"
    assert row_from_result(ceiling, module="bench_shop", database="sqlite").why_failed == "over 50 ms"
    assert row_from_result(slow, module="bench_messaging", database="sqlite").why_failed == "under 200 msg/s"
    assert row_from_result(Result("ok", 1.0, "ms", 1.0, 2.0), module="bench_shop", database="sqlite").passed


def test_a_child_run_survives_the_json_hand_over(tmp_path):
    run = _run("postgresql", slow_search=9.0)
    run.rows[0].ratio = math.inf  # a zero baseline
    run_to_json(run, tmp_path / "run.json")
    again = run_from_json(tmp_path / "run.json")
    assert again == run


# -- the runner ----------------------------------------------------------------------------------

def test_large_reaches_every_child_command(tmp_path, monkeypatch):
    monkeypatch.delenv("BENCH_DATABASE_URL", raising=False)
    args = parse_args(["--large", "--dry-run", "--only", "shop"])
    targets, _ = plan(args, tmp_path)
    assert "sqlite" in {t.database for t in targets}
    for target in targets:
        child = parse_args(target.command[3:])  # [python, -m, bench, ...]
        assert child.child and child.customers == LARGE and child.only == ["shop"]
        assert child.database_url == target.url and str(LARGE) in child.database_url  # its own data set


def test_dry_run_prints_the_large_plan_without_running_anything():
    env = {k: v for k, v in os.environ.items() if k not in ("BENCH_DATABASE_URL", "DATABASE_URL")}
    done = subprocess.run([sys.executable, "-m", "bench", "--large", "--dry-run", "--database", "sqlite"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=True)
    assert "plan: 1,000,000 customers" in done.stdout
    assert "var/bench/servicebay-1000000.sqlite3" in done.stdout
    assert "--child" in done.stdout and "--customers 1000000" in done.stdout


def _source_url(tmp_path: Path) -> str:
    """The test database as a child process sees it: a file copy on SQLite, the test DB on PostgreSQL."""
    if connection.vendor == "postgresql":
        s = connection.settings_dict
        return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
    path = tmp_path / "source.sqlite3"
    with connection.cursor() as cursor:
        cursor.execute("VACUUM INTO %s", [str(path)])
    return f"sqlite:///{path}"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_bench_runs_a_child_per_database_and_writes_one_report(tmp_path):
    call_command("seed", "--customers", "40", "--seed", "5", "--no-users",
                 "--as-of", "2026-03-02T15:30:00+00:00", stdout=io.StringIO())
    env = {**os.environ, "BENCH_DATABASE_URL": _source_url(tmp_path)}
    env.pop("DATABASE_URL", None)
    out = tmp_path / "results"
    done = subprocess.run([sys.executable, "-m", "bench", "--customers", "40", "--only", "shop", "--repeat", "1",
                           "--out", str(out)], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    markdown = (out / "latest.md").read_text()
    rows = _table(markdown)
    label = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[connection.vendor]
    assert len(rows) == 7, done.stdout + done.stderr  # six searches + seed throughput
    assert {r[2] for r in rows} == {label}
    assert "customer search: VIN" in markdown and "reused (seeded earlier)" in markdown
    fails = sum("**FAIL**" in r[7] for r in rows)
    assert done.returncode == (1 if fails else 0), done.stdout + done.stderr
    assert f"{7 - fails} pass / {fails} fail" in done.stdout  # the rich table on the terminal
    bars = [e for e in _svg((out / "latest.svg").read_text()).iter(f"{SVG}rect") if e.get("class") == "bar"]
    assert len(bars) == 7

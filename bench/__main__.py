"""``python -m bench``: every ``bench_*`` module on SQLite and on PostgreSQL, one report.

Django is configured once per process, so each database gets its own child process
(``python -m bench --child …``) that seeds its data set if needed, runs the benchmarks and writes
its results as JSON; this process merges them into ``bench/results/latest.md`` + ``latest.svg``.
The databases are never the ones you work in: an SQLite file per data-set size under
``var/bench/``, and the PostgreSQL database ``sb_bench`` (``sb_bench_<N>`` for other sizes), or
the one named by ``BENCH_DATABASE_URL``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import platform
import shlex
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    from bench.report import Machine
    from servicebay.demo.services import SeedReport

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS = BENCH_DIR / "results"
DEFAULT_CUSTOMERS = 100_000
LARGE = 1_000_000
PG_SERVER = "postgres://postgres@127.0.0.1:5432"
DATABASES = ("sqlite", "postgresql")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=DEFAULT_CUSTOMERS,
                        help="data-set size (default 100,000; 2000 is a smoke run of seconds)")
    parser.add_argument("--large", action="store_true", help=f"the chain data set: {LARGE:,} customers")
    parser.add_argument("--only", metavar="NAME", action="append",
                        help="run only bench_NAME (repeatable)")
    parser.add_argument("--database", choices=(*DATABASES, "both"),
                        help="which database(s) to run on (default both; only BENCH_DATABASE_URL's "
                             "database when that is set)")
    parser.add_argument("--repeat", type=int, default=15, help="timed runs per measurement (median)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="report directory (default bench/results)")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the plan (databases, child commands) and exit")
    # One child per database; these are how the parent talks to it.
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    parser.add_argument("--json-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.large:
        args.customers = LARGE
    if args.customers < 1:
        parser.error("--customers must be at least 1")
    if args.child and not (args.database_url and args.json_out):
        parser.error("--child needs --database-url and --json-out")
    return args


def discover(only: list[str] | None) -> list[str]:
    names = sorted(m.name for m in pkgutil.iter_modules([str(BENCH_DIR)]) if m.name.startswith("bench_"))
    if only:
        wanted = {n if n.startswith("bench_") else f"bench_{n}" for n in only}
        unknown = wanted - set(names)
        if unknown:
            raise SystemExit(f"unknown benchmark(s): {', '.join(sorted(unknown))}; have {', '.join(names)}")
        names = [n for n in names if n in wanted]
    return names


# -- the parent: plan, run one child per database, merge ------------------------------------------

@dataclass
class Target:
    """One database to benchmark, and the child command that does it."""

    database: str  # "sqlite" | "postgresql"
    url: str
    command: list[str]
    json_out: Path


def database_of(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgresql"


def location_of(url: str) -> str:
    """Where the data lives, for the report: the file, or host:port/dbname without credentials."""
    parts = urlsplit(url)
    if parts.scheme.startswith("sqlite"):
        path = Path(parts.path[1:] if parts.path.startswith("//") else parts.path)
        return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)
    return f"{parts.hostname}:{parts.port or 5432}{parts.path}"


def sqlite_url(customers: int) -> str:
    return f"sqlite:///{ROOT / 'var' / 'bench' / f'servicebay-{customers}.sqlite3'}"


def postgres_url(customers: int) -> str:
    """``sb_bench`` for the default 100k data set, ``sb_bench_<N>`` for others, so sizes never
    overwrite each other's (slow to seed) data — as the SQLite files do."""
    name = "sb_bench" if customers == DEFAULT_CUSTOMERS else f"sb_bench_{customers}"
    return f"{PG_SERVER}/{name}"


def postgres_ensure(url: str, *, create: bool) -> str | None:
    """Reach the server and create the database if missing; the reason it can't, else None."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(path="/postgres"))
    try:
        with psycopg.connect(admin, connect_timeout=3, autocommit=True) as con:
            exists = con.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
            if not exists and create:
                con.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                print(f"created PostgreSQL database {name}")
    except psycopg.OperationalError as exc:
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return None


def child_command(args: argparse.Namespace, url: str, json_out: Path) -> list[str]:
    command = [sys.executable, "-m", "bench", "--child", "--database-url", url, "--json-out", str(json_out),
               "--customers", str(args.customers), "--repeat", str(args.repeat)]
    for name in args.only or []:
        command += ["--only", name]
    return command


def plan(args: argparse.Namespace, workdir: Path) -> tuple[list[Target], list[str]]:
    """The databases this run covers, and notes for the report (a database left out, and why).

    Raises ``SystemExit`` when PostgreSQL is required (asked for by name, or CI=true) but unreachable.
    """
    override = os.environ.get("BENCH_DATABASE_URL")
    chosen = args.database or (database_of(override) if override else "both")
    databases = DATABASES if chosen == "both" else (chosen,)
    notes: list[str] = []
    targets = []
    for database in databases:
        if database == "sqlite":
            url = override if override and database_of(override) == "sqlite" else sqlite_url(args.customers)
        else:
            url = override if override and database_of(override) == "postgresql" else postgres_url(args.customers)
            problem = postgres_ensure(url, create=not args.dry_run)
            if problem:
                line = f"PostgreSQL at {location_of(url)} is unreachable ({problem})"
                if chosen == "postgresql":
                    raise SystemExit(f"{line}; --database postgresql needs it.")
                if os.environ.get("CI") == "true":
                    raise SystemExit(f"{line}; it is required on CI (CI=true).")
                notes.append(f"{line}: this report covers SQLite only.")
                print(notes[-1])
                continue
        json_out = workdir / f"{database}.json"
        targets.append(Target(database, url, child_command(args, url, json_out), json_out))
    return targets, notes


def machine_describe() -> Machine:
    from bench.report import Machine

    cpu, memory = platform.machine(), 0.0
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines()
                    if line.startswith("model name")), cpu)
        meminfo = Path("/proc/meminfo").read_text().split()
        memory = int(meminfo[meminfo.index("MemTotal:") + 1]) / 2**20
    except (OSError, ValueError):
        pass
    return Machine(cores=os.cpu_count() or 1, cpu=cpu, memory_gib=memory, python=platform.python_version(),
                   load_start=os.getloadavg())


def run_parent(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from bench.core import Result
    from bench.report import (
        DatabaseRun,
        Report,
        report_print,
        report_write,
        row_from_result,
        run_from_json,
    )

    names = discover(args.only)  # an unknown name stops here, before any child starts
    started = datetime.now(UTC)
    machine = machine_describe()
    with tempfile.TemporaryDirectory(prefix="sb-bench-") as tmp:
        targets, notes = plan(args, Path(tmp))
        if args.dry_run:
            print(f"plan: {args.customers:,} customers, {', '.join(names)}")
            for target in targets:
                print(f"{target.database}: {location_of(target.url)}")
                print("  " + shlex.join(target.command))
            return 0
        runs = []
        for target in targets:
            print(f"== {target.database}: {location_of(target.url)}, {args.customers:,} customers ==", flush=True)
            t0, load0 = time.perf_counter(), os.getloadavg()
            code = subprocess.run(target.command, cwd=ROOT).returncode  # noqa: S603 - our interpreter, our args
            if target.json_out.exists():
                runs.append(run_from_json(target.json_out))
                continue
            # The child died before writing its results: the report says so instead of going quiet.
            crash = Result(metric=f"{target.database} run: crashed (exit {code})", value=0.0, unit="",
                           baseline=0.0, budget_ratio=0.0, note="see the terminal output above", failed=True)
            runs.append(DatabaseRun(database=target.database, location=location_of(target.url),
                                    seconds=time.perf_counter() - t0, load_start=load0,
                                    load_end=os.getloadavg(), exit_code=code,
                                    rows=[row_from_result(crash, module="bench", database=target.database)]))
    machine.load_end = os.getloadavg()
    report = Report(started=started, customers=args.customers, repeat=args.repeat, machine=machine,
                    runs=runs, notes=notes)
    written = report_write(report, args.out)
    report_print(report)
    for path in written[:2]:
        print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0 if report.rows and all(row.passed for row in report.rows) else 1


# -- a child: one database ------------------------------------------------------------------------

def configure_django(url: str) -> None:
    """Point Django at the benchmark database before anything imports settings."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "servicebay.settings"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def prepare_data(customers: int) -> SeedReport | None:
    """Migrate, and seed when the database holds fewer customers than asked for."""
    from django.core.management import call_command
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from servicebay.demo.services import demo_seed
    from servicebay.shop.models import Customer

    call_command("migrate", verbosity=0)
    have = Customer.objects.count()
    if have >= customers:
        return None
    if have:
        print(f"benchmark database has {have:,} customers, wants {customers:,}: emptying it")
        call_command("flush", interactive=False, verbosity=0)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns) as progress:
        task = progress.add_task(f"seeding {customers:,} customers", total=customers)
        report = demo_seed(customers=customers, seed=42,
                           on_progress=lambda n: progress.advance(task, n))
    print(f"seeded {report.total_rows:,} rows in {report.seconds:.1f} s")
    return report


def engine_version() -> str:
    from django.db import connection

    if connection.vendor == "sqlite":
        import sqlite3

        return f"SQLite {sqlite3.sqlite_version}"
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        return f"PostgreSQL {cursor.fetchone()[0].split()[0]}"


def run_child(args: argparse.Namespace) -> int:
    started, load_start = time.perf_counter(), os.getloadavg()
    configure_django(args.database_url)
    from django.db import connection
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from bench.core import Context, Result, fmt
    from bench.report import DatabaseRun, row_from_result, run_to_json
    from servicebay.shop.models import Customer

    database = database_of(args.database_url)
    seed = prepare_data(args.customers)
    ctx = Context(customers=args.customers, vendor=connection.vendor, database=location_of(args.database_url),
                  repeat=args.repeat, seed_report=seed)
    run = DatabaseRun(database=database, location=location_of(args.database_url), engine=engine_version(),
                      customers=Customer.objects.count(), load_start=load_start,
                      seed_seconds=seed.seconds if seed else None, seed_rows=seed.total_rows if seed else 0)
    names = discover(args.only)
    console = Console() if sys.stdout.isatty() else Console(width=200)  # a log file gets whole lines
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task(f"{database} benchmarks", total=len(names))
        for name in names:
            progress.update(task, description=f"{database}: {name}")
            try:
                module_results = importlib.import_module(f"bench.{name}").run(ctx)
            except Exception as exc:  # one broken benchmark must not hide the others' numbers
                console.print(traceback.format_exc(), markup=False)
                module_results = [Result(metric=f"{name}: crashed", value=0.0, unit="", baseline=0.0,
                                         budget_ratio=0.0, note=f"{type(exc).__name__}: {exc}"[:200],
                                         failed=True)]
            for result in module_results:
                run.rows.append(row_from_result(result, module=name, database=database))
                verdict = "[green]ok[/]" if result.passed else "[bold red]FAIL[/]"
                console.print(escape(f"{database} · {result.metric}: {fmt(result.value)} {result.unit} "
                                     f"(baseline {fmt(result.baseline)}, ratio {result.ratio:.2f}x) ")
                              + verdict + escape(f" — {result.note}" if result.note else ""), highlight=False)
            progress.advance(task)
    run.seconds, run.load_end = time.perf_counter() - started, os.getloadavg()
    run.exit_code = 0 if all(row.passed for row in run.rows) else 1
    run_to_json(run, args.json_out)
    return run.exit_code


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_child(args) if args.child else run_parent(args)


if __name__ == "__main__":
    raise SystemExit(main())

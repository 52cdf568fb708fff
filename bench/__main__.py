"""``python -m bench``: seed (once) a dedicated benchmark database, run every ``bench_*`` module.

The database is never the one you work in: an SQLite file per data-set size under
``var/bench/``, or the PostgreSQL database named by ``BENCH_DATABASE_URL``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
import traceback
from datetime import UTC, datetime
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS = BENCH_DIR / "results"
LARGE = 1_000_000


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--customers", type=int, default=100_000,
                        help="data-set size (default 100,000; 2000 is a smoke run of seconds)")
    parser.add_argument("--large", action="store_true", help=f"the chain data set: {LARGE:,} customers")
    parser.add_argument("--only", metavar="NAME", action="append",
                        help="run only bench_NAME (repeatable)")
    parser.add_argument("--repeat", type=int, default=15, help="timed runs per measurement (median)")
    args = parser.parse_args(argv)
    if args.large:
        args.customers = LARGE
    if args.customers < 1:
        parser.error("--customers must be at least 1")
    return args


def configure_django(customers: int) -> str:
    """Point Django at the benchmark database before anything imports settings."""
    url = os.environ.get("BENCH_DATABASE_URL")
    if not url:
        path = ROOT / "var" / "bench" / f"servicebay-{customers}.sqlite3"
        path.parent.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{path}"
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "servicebay.settings"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    return url


def prepare_data(customers: int):
    """Migrate, and seed when the database holds fewer customers than asked for."""
    from django.core.management import call_command
    from rich.progress import Progress

    from servicebay.demo.services import demo_seed
    from servicebay.shop.models import Customer

    call_command("migrate", verbosity=0)
    have = Customer.objects.count()
    if have >= customers:
        return None
    if have:
        print(f"benchmark database has {have:,} customers, wants {customers:,}: emptying it")
        call_command("flush", interactive=False, verbosity=0)
    with Progress() as progress:
        task = progress.add_task(f"seeding {customers:,} customers", total=customers)
        report = demo_seed(customers=customers, seed=42,
                           on_progress=lambda n: progress.advance(task, n))
    print(f"seeded {report.total_rows:,} rows in {report.seconds:.1f} s")
    return report


def discover(only: list[str] | None) -> list[str]:
    names = sorted(m.name for m in pkgutil.iter_modules([str(BENCH_DIR)]) if m.name.startswith("bench_"))
    if only:
        wanted = {n if n.startswith("bench_") else f"bench_{n}" for n in only}
        unknown = wanted - set(names)
        if unknown:
            raise SystemExit(f"unknown benchmark(s): {', '.join(sorted(unknown))}; have {', '.join(names)}")
        names = [n for n in names if n in wanted]
    return names


def write_markdown(ctx, results) -> Path:
    from bench.core import fmt

    RESULTS.mkdir(exist_ok=True)
    lines = [
        "# ServiceBay benchmarks",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {ctx.vendor} · {ctx.customers:,} customers · "
        f"median of {ctx.repeat}",
        "",
        "| metric | ServiceBay | baseline | ratio | budget | pass/fail |",
        "|---|---:|---:|---:|---|---|",
    ]
    for r in results:
        verdict = "pass" if r.passed else "**FAIL**"
        note = f" ({r.note})" if r.note else ""
        lines.append(
            f"| {r.metric}{note} | {fmt(r.value)} {r.unit} | {fmt(r.baseline)} {r.unit} | "
            f"{r.ratio:.2f}x | {r.budget} | {verdict} |"
        )
    path = RESULTS / "latest.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    url = configure_django(args.customers)
    from django.db import connection

    from bench.core import Context, Result, fmt

    report = prepare_data(args.customers)
    ctx = Context(customers=args.customers, vendor=connection.vendor,
                  database=url.rsplit("@", 1)[-1], repeat=args.repeat, seed_report=report)
    results = []
    for name in discover(args.only):
        try:
            module_results = importlib.import_module(f"bench.{name}").run(ctx)
        except Exception as exc:  # one broken benchmark must not hide the others' numbers
            traceback.print_exc()
            module_results = [Result(metric=f"{name}: crashed", value=0.0, unit="", baseline=0.0,
                                     budget_ratio=0.0, note=f"{type(exc).__name__}: {exc}"[:200],
                                     failed=True)]
        for result in module_results:
            results.append(result)
            verdict = "ok" if result.passed else "FAIL"
            print(f"{result.metric}: {fmt(result.value)} {result.unit} "
                  f"(baseline {fmt(result.baseline)}, ratio {result.ratio:.2f}x) {verdict}"
                  + (f" — {result.note}" if result.note else ""))
    path = write_markdown(ctx, results)
    print(f"wrote {path.relative_to(ROOT)}")
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())

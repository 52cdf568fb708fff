"""The one benchmark report: every result of every database in one Markdown table, one SVG chart
beside it, and the same table on the terminal.

Children (one process per database) hand their results over as JSON (``run_to_json`` /
``run_from_json``); the parent merges them and calls ``report_write``. Nothing here imports Django.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from bench.core import Result, fmt

DATABASE_LABELS = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
# bench_<name> -> what the capability is called in DESIGN §5 and the README.
CAPABILITIES = {
    "shop": "Customer search & seed",
    "customer360": "Customer 360",
    "visits": "Service timeline",
    "segments": "Segments & export",
    "warehouse": "Warehouse sync",
    "messaging": "Journeys & messaging",
    "loyalty": "Loyalty",
}
GREEN = "#1a7f37"
RED = "#cf222e"


@dataclass
class Row:
    """One result as the report shows it: a ``Result`` plus where it was measured."""

    capability: str
    metric: str
    database: str  # "sqlite" | "postgresql"
    value: float
    unit: str
    baseline: float
    ratio: float
    budget_ratio: float
    budget: str
    passed: bool
    why_failed: str = ""  # "" when passed; else which part of the budget it missed
    note: str = ""

    @property
    def database_label(self) -> str:
        return DATABASE_LABELS.get(self.database, self.database)


def capability_name(module: str) -> str:
    """``bench_segments`` -> ``Segments & export``."""
    short = module.removeprefix("bench_")
    return CAPABILITIES.get(short, short)


def row_from_result(result: Result, *, module: str, database: str) -> Row:
    """Freeze a ``Result`` (its computed ratio, verdict and budget text) for the report."""
    reasons = []
    if result.failed:  # the two sides disagreed on the rows, or the benchmark crashed: see the note
        reasons.append("check failed")
    if result.budget_ratio > 0 and result.ratio > result.budget_ratio:
        reasons.append(f"ratio over {result.budget_ratio:g}x")
    if result.budget_abs is not None and not result.failed and result.ratio <= result.budget_ratio \
            and not result.passed:
        reasons.append(f"{'under' if result.higher_is_better else 'over'} {result.budget_abs:g} {result.unit}")
    why = "; ".join(reasons)
    return Row(capability=capability_name(module), metric=result.metric, database=database,
               value=result.value, unit=result.unit, baseline=result.baseline, ratio=result.ratio,
               budget_ratio=result.budget_ratio, budget=result.budget if result.budget_ratio > 0 else "—",
               passed=result.passed,
               why_failed=why, note=result.note)


@dataclass
class DatabaseRun:
    """What one child process did on one database."""

    database: str  # "sqlite" | "postgresql"
    location: str  # file path or host/dbname, never a password
    engine: str = ""  # "SQLite 3.40.1", "PostgreSQL 15.8"
    customers: int = 0  # customers actually in the database
    seed_seconds: float | None = None  # None: an existing data set was reused
    seed_rows: int = 0
    seconds: float = 0.0
    load_start: tuple[float, float, float] = (0.0, 0.0, 0.0)
    load_end: tuple[float, float, float] = (0.0, 0.0, 0.0)
    exit_code: int = 0
    rows: list[Row] = field(default_factory=list)

    @property
    def label(self) -> str:
        return DATABASE_LABELS.get(self.database, self.database)


def run_to_json(run: DatabaseRun, path: Path) -> None:
    path.write_text(json.dumps(asdict(run), indent=1))


def run_from_json(path: Path) -> DatabaseRun:
    data = json.loads(path.read_text())
    rows = [Row(**row) for row in data.pop("rows")]
    data["load_start"] = tuple(data["load_start"])
    data["load_end"] = tuple(data["load_end"])
    return DatabaseRun(**data, rows=rows)


@dataclass
class Machine:
    """The box the numbers came from; it is shared, so the load average is part of the result."""

    cores: int
    cpu: str
    memory_gib: float
    python: str
    load_start: tuple[float, float, float]
    load_end: tuple[float, float, float] = (0.0, 0.0, 0.0)


@dataclass
class Report:
    """Everything one ``python -m bench`` run measured."""

    started: datetime
    customers: int
    repeat: int
    machine: Machine
    runs: list[DatabaseRun]
    notes: list[str] = field(default_factory=list)  # e.g. "PostgreSQL unreachable: SQLite only"

    @property
    def rows(self) -> list[Row]:
        """Each metric's databases side by side, capabilities and metrics in the order measured."""
        order: dict[tuple[str, str], int] = {}
        for run in self.runs:
            for row in run.rows:
                order.setdefault((row.capability, row.metric), len(order))
        databases = {name: i for i, name in enumerate(DATABASE_LABELS)}
        capability_first = {}
        for (capability, _), i in order.items():
            capability_first.setdefault(capability, i)
        rows = [row for run in self.runs for row in run.rows]
        return sorted(rows, key=lambda r: (capability_first[r.capability], order[(r.capability, r.metric)],
                                           databases.get(r.database, len(databases))))

    @property
    def failures(self) -> list[Row]:
        return [row for row in self.rows if not row.passed]


# -- Markdown ------------------------------------------------------------------------------------

def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _ratio_text(ratio: float) -> str:
    if math.isinf(ratio):
        return "∞"
    return f"{ratio:.2f}x" if ratio < 10 else f"{ratio:.1f}x" if ratio < 100 else f"{ratio:,.0f}x"


def _load(load: tuple[float, float, float]) -> str:
    return " / ".join(f"{x:.2f}" for x in load)


def _seed_text(run: DatabaseRun) -> str:
    if run.seed_seconds is None:
        return "reused (seeded earlier)"
    return f"seeded now: {run.seed_rows:,} rows in {run.seed_seconds / 60:.1f} min"


def render_markdown(report: Report, *, chart_name: str) -> str:
    """The report page; ``chart_name`` is the SVG's file name, relative to the Markdown file."""
    m = report.machine
    passed = sum(row.passed for row in report.rows)
    failed = len(report.rows) - passed
    lines = [
        "# ServiceBay benchmarks",
        "",
        f"{report.started:%Y-%m-%d %H:%M} UTC · {report.customers:,} customers · "
        f"median of {report.repeat} timed runs per measurement",
        "",
        f"Machine: {m.cores} cores ({m.cpu}), {m.memory_gib:.1f} GiB RAM, Python {m.python}. "
        f"Load average (1 / 5 / 15 min): {_load(m.load_start)} at start, {_load(m.load_end)} at end. "
        "The machine is shared with other work, so absolute times wander; each ratio compares with a "
        "baseline measured in the same run, moments apart.",
        "",
        "| database | where | customers | data set | run time | load at start → end |",
        "|---|---|---:|---|---:|---|",
    ]
    for run in report.runs:
        engine = run.engine or run.label
        status = "" if run.exit_code in (0, 1) else f" — **crashed (exit {run.exit_code})**"
        lines.append(f"| {_cell(engine)}{status} | `{_cell(run.location)}` | {run.customers:,} | "
                     f"{_seed_text(run)} | {run.seconds / 60:.1f} min | "
                     f"{_load(run.load_start)} → {_load(run.load_end)} |")
    if report.notes:
        lines += ["", *(f"> {note}" for note in report.notes)]
    lines += [
        "",
        f"**{passed} pass / {failed} fail**",
        "",
        f"![Ratio to baseline per metric and database, log scale, budgets marked]({chart_name})",
        "",
        "| capability | metric | database | ServiceBay | baseline | ratio | budget | pass/fail |",
        "|---|---|---|---:|---:|---:|---|---|",
    ]
    for row in report.rows:
        note = f" ({row.note})" if row.note else ""
        verdict = "pass" if row.passed else f"**FAIL** ({row.why_failed})"
        lines.append(
            f"| {_cell(row.capability)} | {_cell(row.metric + note)} | {row.database_label} | "
            f"{fmt(row.value)} {row.unit} | {fmt(row.baseline)} {row.unit} | {_ratio_text(row.ratio)} | "
            f"{_cell(row.budget)} | {verdict} |"
        )
    lines += [
        "",
        "ratio = ServiceBay ÷ baseline (for throughputs baseline ÷ ServiceBay), so lower is better and "
        "1x is parity. A row passes when its ratio is within the budget and, where DESIGN §5 gives "
        "one, its value is within the absolute ceiling.",
    ]
    if failed:
        lines += ["", "Over budget:", ""]
        lines += [f"- {row.capability}: {row.metric} on {row.database_label} — {_ratio_text(row.ratio)} "
                  f"against {row.budget} ({row.why_failed})" for row in report.failures]
    return "\n".join(lines) + "\n"


# -- SVG -----------------------------------------------------------------------------------------

WIDTH = 1080
LABEL_RIGHT = 430  # metric labels end here, the plot starts after a gap
PLOT_LEFT, PLOT_RIGHT = 440, 780
ROW_HEIGHT, BAR_HEIGHT = 22, 14
TOP, BOTTOM = 64, 44


def _domain(rows: list[Row]) -> tuple[float, float]:
    """Whole decades around every finite ratio, every budget and parity."""
    values = [1.0] + [r.ratio for r in rows if math.isfinite(r.ratio) and r.ratio > 0]
    values += [r.budget_ratio for r in rows if r.budget_ratio > 0]
    lo = 10 ** math.floor(math.log10(min(values)))
    hi = 10 ** math.ceil(math.log10(max(values) * 1.05))
    return max(lo, 1e-3), min(max(hi, lo * 10), 1e3)


def _ticks(lo: float, hi: float) -> list[float]:
    decades = round(math.log10(hi / lo))
    steps = (1, 2, 5) if decades <= 3 else (1,)
    ticks = []
    for exponent in range(round(math.log10(lo)), round(math.log10(hi)) + 1):
        ticks += [s * 10 ** exponent for s in steps if lo <= s * 10 ** exponent <= hi * 1.0001]
    return ticks


def _tick_text(tick: float) -> str:
    return f"{tick:g}x"


def render_svg(report: Report) -> str:
    """Horizontal bars of each result's ratio on a log scale, its budget marked, pass green / fail red."""
    rows = report.rows
    lo, hi = _domain(rows)

    def x(ratio: float) -> float:
        ratio = min(max(ratio, lo), hi) if math.isfinite(ratio) else hi
        return PLOT_LEFT + (PLOT_RIGHT - PLOT_LEFT) * math.log10(ratio / lo) / math.log10(hi / lo)

    # One heading line per capability, then one bar per result.
    lines: list[str | Row] = []
    for row in rows:
        if not lines or (isinstance(lines[-1], Row) and lines[-1].capability != row.capability):
            lines.append(row.capability)
        lines.append(row)
    height = TOP + ROW_HEIGHT * max(len(lines), 1) + BOTTOM
    passed = sum(r.passed for r in rows)
    title = f"ServiceBay benchmarks, {report.customers:,} customers: ratio to baseline"
    desc = (f"{len(rows)} results on {', '.join(run.label for run in report.runs)}: {passed} pass, "
            f"{len(rows) - passed} fail. Each bar is ServiceBay's time (or baseline's throughput) divided "
            "by the baseline's, on a log scale; the black mark on each row is its budget; green passes, "
            "red fails.")
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" role="img" aria-labelledby="chart-title chart-desc" '
        'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif" font-size="11">',
        f'<title id="chart-title">{escape(title)}</title>',
        f'<desc id="chart-desc">{escape(desc)}</desc>',
        '<rect width="100%" height="100%" fill="#ffffff"/>',
        f'<text x="12" y="22" font-size="14" font-weight="bold" fill="#1f2328">{escape(title)}</text>',
        f'<text x="12" y="40" fill="#57606a">{passed} pass / {len(rows) - passed} fail · log scale · '
        'lower is better · black tick = budget · green = pass, red = fail</text>',
    ]
    plot_bottom = TOP + ROW_HEIGHT * len(lines)
    for tick in _ticks(lo, hi):
        tx = x(tick)
        colour, width = ("#57606a", 1.5) if tick == 1 else ("#d0d7de", 1)
        out.append(f'<line x1="{tx:.1f}" y1="{TOP - 6}" x2="{tx:.1f}" y2="{plot_bottom}" '
                   f'stroke="{colour}" stroke-width="{width}"/>')
        out.append(f'<text x="{tx:.1f}" y="{plot_bottom + 16}" text-anchor="middle" '
                   f'fill="#57606a">{escape(_tick_text(tick))}</text>')
    out.append(f'<text x="{(PLOT_LEFT + PLOT_RIGHT) / 2:.0f}" y="{plot_bottom + 34}" text-anchor="middle" '
               'fill="#57606a">ServiceBay ÷ baseline (throughputs: baseline ÷ ServiceBay)</text>')
    for i, row in enumerate(lines):
        top = TOP + ROW_HEIGHT * i
        mid = top + ROW_HEIGHT / 2
        if isinstance(row, str):
            out.append(f'<text class="capability" x="12" y="{mid + 5:.1f}" font-size="12" font-weight="bold" '
                       f'fill="#1f2328">{escape(row)}</text>')
            continue
        colour = GREEN if row.passed else RED
        verdict = "pass" if row.passed else f"FAIL, {row.why_failed}"
        label = f"{row.metric} · {row.database_label}"
        short = label if len(label) <= 70 else label[:67] + "…"
        summary = (f"{row.capability}: {row.metric} on {row.database_label}: {_ratio_text(row.ratio)} "
                   f"({fmt(row.value)} vs {fmt(row.baseline)} {row.unit}), budget {row.budget}, {verdict}")
        bar_end = x(row.ratio)
        budget_x = x(row.budget_ratio)
        if row.passed:
            verdict_text = "pass"
        elif row.why_failed.startswith("ratio"):
            verdict_text = "FAIL"
        else:
            verdict_text = f"FAIL: {row.why_failed}"
        budget_text = f" (budget ≤ {row.budget_ratio:g}x)" if row.budget_ratio > 0 else ""
        out += [
            f'<g class="result {"pass" if row.passed else "fail"}" data-database={quoteattr(row.database)}>',
            f"<title>{escape(summary)}</title>",
            f'<text x="{LABEL_RIGHT}" y="{mid + 4:.1f}" text-anchor="end" fill="#1f2328">{escape(short)}</text>',
            f'<rect class="bar" x="{PLOT_LEFT}" y="{mid - BAR_HEIGHT / 2:.1f}" '
            f'width="{max(bar_end - PLOT_LEFT, 1.5):.1f}" height="{BAR_HEIGHT}" fill="{colour}" rx="2"/>',
        ]
        if row.budget_ratio > 0:  # a crashed benchmark has no budget to mark
            out += [
                f'<line x1="{budget_x:.1f}" y1="{top + 1}" x2="{budget_x:.1f}" y2="{top + ROW_HEIGHT - 1}" '
                'stroke="#ffffff" stroke-width="5"/>',
                f'<line class="budget" x1="{budget_x:.1f}" y1="{top + 1}" x2="{budget_x:.1f}" '
                f'y2="{top + ROW_HEIGHT - 1}" stroke="#1f2328" stroke-width="2.5"/>',
            ]
        out += [
            f'<text x="{PLOT_RIGHT + 8}" y="{mid + 4:.1f}" fill="{colour}">'
            f'{escape(_ratio_text(row.ratio) + budget_text)} {escape(verdict_text)}</text>',
            "</g>",
        ]
    out.append("</svg>")
    return "\n".join(out) + "\n"


# -- writing and printing ------------------------------------------------------------------------

def report_write(report: Report, out_dir: Path) -> list[Path]:
    """``latest.md`` + ``latest.svg`` and a timestamped copy of both; returns the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = f"{report.started.astimezone(UTC):%Y-%m-%dT%H%MZ}-{report.customers}"
    svg = render_svg(report)
    written = []
    for stem in ("latest", stamp):
        md_path, svg_path = out_dir / f"{stem}.md", out_dir / f"{stem}.svg"
        svg_path.write_text(svg)
        md_path.write_text(render_markdown(report, chart_name=svg_path.name))
        written += [md_path, svg_path]
    return written


def report_print(report: Report) -> None:
    """The table on the terminal (rich), failures in red."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"ServiceBay benchmarks · {report.customers:,} customers", show_lines=False)
    for name, justify in (("capability", "left"), ("metric", "left"), ("database", "left"),
                          ("ServiceBay", "right"), ("baseline", "right"), ("ratio", "right"),
                          ("budget", "left"), ("pass/fail", "left")):
        table.add_column(name, justify=justify)
    for row in report.rows:
        verdict = "[green]pass[/]" if row.passed else f"[bold red]FAIL[/] ({row.why_failed})"
        table.add_row(row.capability, row.metric, row.database_label, f"{fmt(row.value)} {row.unit}",
                      f"{fmt(row.baseline)} {row.unit}", _ratio_text(row.ratio), row.budget, verdict)
    console = Console() if sys.stdout.isatty() else Console(width=200)  # a log file gets whole lines
    console.print(table)
    passed = sum(row.passed for row in report.rows)
    console.print(f"{passed} pass / {len(report.rows) - passed} fail")

"""What every benchmark shares: the run context, the result record and the timing helper."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Result:
    """One measurement next to its baseline from the same run.

    ``ratio`` says how many times worse ServiceBay is than the baseline (for throughputs, where
    higher is better, baseline / value); it passes when the ratio is within ``budget_ratio`` and,
    if given, the value is within the absolute ceiling ``budget_abs``.
    """

    metric: str
    value: float
    unit: str
    baseline: float
    budget_ratio: float
    budget_abs: float | None = None
    higher_is_better: bool = False
    note: str = ""
    failed: bool = False  # forced failure (e.g. the two sides returned different rows)

    @property
    def ratio(self) -> float:
        if self.higher_is_better:
            return self.baseline / self.value if self.value else float("inf")
        return self.value / self.baseline if self.baseline else float("inf")

    @property
    def passed(self) -> bool:
        if self.failed or self.ratio > self.budget_ratio:
            return False
        if self.budget_abs is None:
            return True
        return self.value >= self.budget_abs if self.higher_is_better else self.value <= self.budget_abs

    @property
    def budget(self) -> str:
        parts = [f"≤ {self.budget_ratio:g}x"]
        if self.budget_abs is not None:
            parts.append(f"{'≥' if self.higher_is_better else '<'} {self.budget_abs:g} {self.unit}")
        return ", ".join(parts)


@dataclass
class Context:
    """Handed to every ``run(ctx)``: the data set and how hard to measure."""

    customers: int
    vendor: str
    database: str
    repeat: int
    seed_report: Any = None  # SeedReport when this run seeded the database, else None
    extras: dict[str, Any] = field(default_factory=dict)


def median_ms(fn: Callable[[], Any], repeat: int, warmup: int = 2) -> tuple[float, Any]:
    """Median wall time of ``fn()`` in milliseconds over ``repeat`` runs, and its last result."""
    result = None
    for _ in range(warmup):
        result = fn()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), result


def fmt(value: float) -> str:
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"

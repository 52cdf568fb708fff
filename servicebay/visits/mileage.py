"""Mileage prediction: a least-squares line through a vehicle's odometer readings.

The fit gives distance per day; inverting it says when the vehicle reaches a given reading (a
service falling due by mileage). The ± is a 95 % prediction interval for that date: it widens
with scattered readings, few readings, and targets far from the readings we have. Two readings
fit a line exactly but say nothing about scatter, so they give a date without a ±.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

_SECONDS_PER_DAY = 86_400.0
_Z975 = 1.959963984540054
# Readings are whole miles or km; a scatter below a millionth of one is floating-point noise.
_FLOAT_NOISE = 1e-6
# Two-sided 95 % Student-t quantiles for 1..30 degrees of freedom.
_T975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)


def t_quantile_975(df: int) -> float:
    """Student-t 97.5 % quantile: a table to 30 df, then the Cornish-Fisher expansion."""
    if df < 1:
        raise ValueError("degrees of freedom must be at least 1")
    if df <= len(_T975):
        return _T975[df - 1]
    z = _Z975
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)


@dataclass(frozen=True)
class Reading:
    """One odometer reading: when, how far, and where it was taken (a visit or a job card)."""

    at: datetime
    odometer: int
    source: str = ""


@dataclass(frozen=True)
class DatePrediction:
    at: datetime
    plus_minus_days: float | None  # None when the data cannot say (two readings)


@dataclass(frozen=True)
class MileageFit:
    """odometer ≈ intercept + per_day · days since ``origin``."""

    per_day: float
    intercept: float
    origin: datetime
    n: int
    mean_days: float
    sxx: float
    residual_sd: float | None

    def odometer_on(self, at: datetime) -> float:
        return self.intercept + self.per_day * _days(at, self.origin)

    def date_reaching(self, odometer: float) -> DatePrediction | None:
        """When the fitted line reaches ``odometer`` (None if the vehicle is not moving)."""
        if self.per_day <= 0:
            return None
        x0 = (odometer - self.intercept) / self.per_day
        at = self.origin + timedelta(days=x0)
        if self.residual_sd is None:
            return DatePrediction(at=at, plus_minus_days=None)
        spread = math.sqrt(1 + 1 / self.n + (x0 - self.mean_days) ** 2 / self.sxx)
        half_width = t_quantile_975(self.n - 2) * self.residual_sd / self.per_day * spread
        return DatePrediction(at=at, plus_minus_days=half_width)


def _days(at: datetime, origin: datetime) -> float:
    return (at - origin).total_seconds() / _SECONDS_PER_DAY


def fit_mileage(readings: Iterable[Reading]) -> MileageFit | None:
    """Least-squares fit of odometer against time; None without two readings at distinct times."""
    points = sorted(readings, key=lambda r: r.at)
    if len(points) < 2:
        return None
    origin = points[0].at
    xs = [_days(r.at, origin) for r in points]
    ys = [float(r.odometer) for r in points]
    n = len(points)
    mean_x, mean_y = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mean_x) ** 2 for x in xs)
    if sxx <= 0:
        return None
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True))
    slope = sxy / sxx
    intercept = mean_y - slope * mean_x
    residual_sd = None
    if n > 2:
        sse = sum((y - (intercept + slope * x)) ** 2 for x, y in zip(xs, ys, strict=True))
        residual_sd = math.sqrt(max(sse, 0.0) / (n - 2))
        if residual_sd < _FLOAT_NOISE:
            residual_sd = 0.0
    return MileageFit(
        per_day=slope, intercept=intercept, origin=origin, n=n, mean_days=mean_x, sxx=sxx,
        residual_sd=residual_sd,
    )

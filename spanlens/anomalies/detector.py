"""Is the last hour unusual? Robust statistics over hourly values, nothing else.

A series maps hours ago to a value: 0 is the last 60 minutes, 1..168 the previous 7 days
(the baseline), up to 191 for the same-hour comparison of the oldest baseline hours.
Two baselines are compared with the window:

- plain: median and MAD of the 168 baseline hours, so an old spike moves neither;
- seasonal: the median of the same hour on the past 7 days, with the spread of every
  baseline hour around its own same-hour median (leaving itself out).

The seasonal one is used when it explains the baseline better (a daily rhythm); the
z-score is then the distance in robust sigmas (1.4826 x MAD is sigma for normal noise).
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

import numpy as np

BASELINE_HOURS = 168
SERIES_HOURS = BASELINE_HOURS + 24
MAD_TO_SIGMA = 1.482602218505602  # 1 / Phi^-1(3/4)
MIN_BASELINE_HOURS = 24
MIN_SAME_HOUR = 3
# Once open, an anomaly stays open until the window is back within this many sigmas.
RESOLVE_BELOW = 2.0

from spanlens.anomalies.metrics import LABELS, METRICS  # noqa: E402,F401  (named here too)
# Which way is bad: a drop in volume is an outage as much as a surge is an incident.
DIRECTIONS = {"p95_latency_ms": ("up",), "cost_usd": ("up",), "error_rate": ("up",), "requests": ("up", "down")}


def median(values: list[float]) -> float:
    return statistics.median(values)


def mad(values: list[float], center: float | None = None) -> float:
    """Median absolute deviation (unscaled, like scipy.stats.median_abs_deviation's default)."""
    c = median(values) if center is None else center
    return median([abs(v - c) for v in values])


def robust_sigma(values: list[float]) -> float:
    return MAD_TO_SIGMA * mad(values)


# Each metric is compared on a scale where its noise is about as wide at any level: volume
# as a square root (Poisson counts), latency and cost as a logarithm (they vary by a factor),
# rates as they are. A busy afternoon may then wobble more than a quiet night, in dollars,
# and still be ordinary.
TRANSFORMS = {"requests": "sqrt", "cost_usd": "log", "p95_latency_ms": "log", "error_rate": "identity"}


def _fwd(kind: str, x):
    if kind == "sqrt":
        return np.sqrt(np.maximum(x, 0.0))
    if kind == "log":
        return np.log(np.maximum(x, 0.0) + 1e-9)
    return x


def _back(kind: str, y: float) -> float:
    if kind == "sqrt":
        return max(y, 0.0) ** 2
    if kind == "log":
        return max(math.exp(y) - 1e-9, 0.0)
    return y


def spread_floor(metric: str, level: float, calls: float) -> float:
    """The least spread a baseline may have, on the metric's own scale: counting noise, or
    5 % for latency and cost. Without it a perfectly flat week makes any wobble infinitely
    unusual."""
    if metric == "requests":
        return 0.5  # sqrt of a Poisson count has a standard deviation of 1/2
    if metric == "cost_usd":
        return max(0.05, 1.0 / math.sqrt(max(calls, 1.0)))
    if metric == "p95_latency_ms":
        return 0.05
    n = max(calls, 1.0)
    p = min(max(level, 1.0 / n), 0.5)
    return math.sqrt(p * (1 - p) / n)


@dataclass
class Baseline:
    metric: str
    center: float         # on the metric's transformed scale
    spread: float
    seasonal: bool
    hours: int
    plain_center: float
    plain_spread: float
    mean: float           # plain mean of the baseline hours (error rate's count test)
    same_hour: list[float] = field(default_factory=list)

    @property
    def expected(self) -> float:
        return _back(TRANSFORMS[self.metric], self.center)

    def bound(self, sigmas: float) -> float:
        return _back(TRANSFORMS[self.metric], self.center + sigmas * self.spread)


def _column_medians(a):
    """The median of each column, ignoring NaN (NaN for an empty column). np.nanmedian
    does the same through masked arrays, about 50 times slower on arrays this small."""
    ordered = np.sort(a, axis=0)  # NaN sorts last
    n = (~np.isnan(a)).sum(axis=0)
    lo = np.clip((n - 1) // 2, 0, a.shape[0] - 1)
    hi = np.clip(n // 2, 0, a.shape[0] - 1)
    cols = np.arange(a.shape[1])
    out = (ordered[lo, cols] + ordered[hi, cols]) / 2
    return np.where(n > 0, out, np.nan)


def _leave_one_out_medians(grid):
    """For each cell, the median of its column without it. Full columns of 7 take the
    sorted-order shortcut (the median of the other 6 depends only on the cell's rank);
    columns with gaps are computed one left-out row at a time."""
    out = np.full(grid.shape, np.nan)
    full = ~np.isnan(grid).any(axis=0)
    if full.any() and grid.shape[0] == 7:
        g = grid[:, full]
        o = np.sort(g, axis=0)
        rank = np.argsort(np.argsort(g, axis=0, kind="stable"), axis=0, kind="stable")
        out[:, full] = np.where(rank <= 2, (o[3] + o[4]) / 2, np.where(rank == 3, (o[2] + o[4]) / 2, (o[2] + o[3]) / 2))
        gaps = ~full
    else:
        gaps = np.ones(grid.shape[1], dtype=bool)
    if gaps.any():
        sub = grid[:, gaps]
        out[:, gaps] = np.stack([_column_medians(np.delete(sub, d, axis=0)) for d in range(grid.shape[0])])
    return out


def _median_and_sigma(values) -> tuple[float, float]:
    center = float(np.median(values))
    return center, MAD_TO_SIGMA * float(np.median(np.abs(values - center)))


def baseline(series: dict[int, float], metric: str, calls: float = 0.0) -> Baseline | None:
    """The window's expected value and the spread around it; None with too little history."""
    kind = TRANSFORMS[metric]
    raw = np.full(BASELINE_HOURS, np.nan)
    for a, v in series.items():
        if 1 <= a <= BASELINE_HOURS:
            raw[a - 1] = v
    present = ~np.isnan(raw)
    hours = int(present.sum())
    if hours < MIN_BASELINE_HOURS:
        return None
    week = np.where(present, _fwd(kind, np.where(present, raw, 0.0)), np.nan)
    plain_center, plain_spread = _median_and_sigma(week[present])
    # Rows are days back (hours 1-24, 25-48, ...), columns hours ago modulo 24; column 23 of
    # each row is a multiple of 24 hours ago: the window's own hour of day.
    grid = week.reshape(7, 24)
    same_hour = grid[:, 23][~np.isnan(grid[:, 23])]
    center, spread, seasonal = plain_center, plain_spread, False
    if len(same_hour) >= MIN_SAME_HOUR:
        # Each baseline hour against the median of the same hour on the other days.
        others = _leave_one_out_medians(grid)
        residuals = (grid - others)[~np.isnan(grid) & ~np.isnan(others)]
        if len(residuals) >= MIN_BASELINE_HOURS:
            offset, seasonal_spread = _median_and_sigma(residuals)
            same_level = float(np.median(same_hour))
            # A daily rhythm shows as residuals much tighter than the raw spread, or as this
            # hour of day sitting far from the week's median (a daily batch job, a lunch peak).
            if (seasonal_spread < 0.8 * plain_spread
                    or abs(same_level - plain_center) > 2 * max(plain_spread, seasonal_spread)):
                center, spread, seasonal = same_level + offset, seasonal_spread, True
    level = _back(kind, center)
    floor = spread_floor(metric, level, calls)
    return Baseline(metric, center, max(spread, floor), seasonal, hours, plain_center,
                    max(plain_spread, spread_floor(metric, _back(kind, plain_center), calls)),
                    float(np.mean(raw[present])), [_back(kind, float(v)) for v in same_hour])


def _poisson_z(k: float, lam: float) -> float:
    """The upper tail P(X >= k) of a Poisson(lam) count, as a one-sided normal z."""
    k = int(math.floor(k + 1e-9))
    if k <= lam or k <= 0:
        return 0.0
    lam = max(lam, 1e-9)
    term = math.exp(-lam + k * math.log(lam) - math.lgamma(k + 1))
    tail, i = 0.0, k
    while term > tail * 1e-12 and i < k + 10_000:
        tail += term
        i += 1
        term *= lam / i
    if tail <= 0.0:
        return 40.0
    if tail >= 0.5:
        return 0.0
    return min(-statistics.NormalDist().inv_cdf(tail), 40.0)


@dataclass
class Finding:
    metric: str
    value: float
    expected: float
    scale: float          # one sigma above the expected value, in the metric's unit
    score: float          # signed robust z of the window
    direction: str        # "up" / "down", "" when the window is ordinary
    seasonal: bool
    baseline_hours: int
    plain_score: float    # against the plain 7-day median, for the explanation

    @property
    def is_anomaly(self) -> bool:
        return self.direction != ""

    @property
    def confidence(self) -> float:
        """How much history stands behind the baseline: 1.0 for a full week of hours with
        data, falling with the square root of the share that had none."""
        return round(math.sqrt(min(1.0, self.baseline_hours / BASELINE_HOURS)), 2)


def evaluate(series: dict[int, float], metric: str, *, threshold: float = 3.0, calls: float = 0.0,
             open_already: bool = False) -> Finding | None:
    """The window (series[0]) against its baseline. direction is "up" / "down" when the
    window is an anomaly (|z| >= threshold in a bad direction; an open one stays open down
    to RESOLVE_BELOW), "" when it is not; None without a window value or enough history."""
    if 0 not in series:
        return None
    base = baseline(series, metric, calls)
    if base is None:
        return None
    kind = TRANSFORMS[metric]
    value = series[0]
    t = float(_fwd(kind, np.array(value)))
    z = (t - base.center) / base.spread
    plain_z = (t - base.plain_center) / base.plain_spread
    if metric == "error_rate" and z > 0:
        # Errors are counts: a few failures in a quiet hour are not a 3-sigma event just
        # because most hours have none. The window must also be unlikely as a count, at the
        # baseline's mean rate when that is higher than its median.
        rate = max(base.expected, base.mean)
        z = min(z, _poisson_z(value * calls, rate * calls))
    limit = min(threshold, RESOLVE_BELOW) if open_already else threshold
    direction = ""
    if z >= limit and "up" in DIRECTIONS[metric]:
        direction = "up"
    elif z <= -limit and "down" in DIRECTIONS[metric]:
        direction = "down"
    return Finding(metric, value, base.expected, base.bound(1.0) - base.expected, z, direction, base.seasonal,
                   base.hours, plain_z)


def band(series: dict[int, float], metric: str, *, hours: int = 24, threshold: float = 3.0,
         calls: dict[int, float] | None = None) -> list[dict]:
    """The last `hours` hours, oldest first: each hour's value and the band its own baseline
    allowed (the values `threshold` sigmas either side of the expected one), for the chart."""
    calls = calls or {}
    out = []
    for ago in range(hours - 1, -1, -1):
        shifted = {a - ago: v for a, v in series.items() if a >= ago}
        base = baseline(shifted, metric, calls.get(ago, 0.0))
        value = series.get(ago)
        if base is None:
            out.append({"ago": ago, "value": value, "expected": None, "low": None, "high": None})
            continue
        out.append({"ago": ago, "value": value, "expected": base.expected,
                    "low": max(base.bound(-threshold), 0.0), "high": base.bound(threshold)})
    return out

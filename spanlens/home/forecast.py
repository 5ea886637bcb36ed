"""The month's spend forecast: a straight line through the last complete days, with its
prediction interval.

Ordinary least squares of spend on the day; what the rest of the month will cost is the
sum of the line over the days left (today counted for the part not yet gone). Its
uncertainty is the prediction interval of that sum: the line's own error (intercept and
slope) plus each future day's scatter, with Student's t on n - 2 degrees of freedom.
"""
from __future__ import annotations

import calendar
import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from evals.stats import t_ppf

MIN_DAYS = 3  # two points fit any line exactly; a third gives the first estimate of scatter
HISTORY_DAYS = 30


@dataclass(frozen=True)
class Fit:
    intercept: float
    slope: float
    residual_sd: float
    n: int
    x_mean: float
    sxx: float


@dataclass(frozen=True)
class Forecast:
    month_to_date: float
    expected: float  # the month's total: spent so far plus the line over what is left
    low: float
    high: float
    level: float
    days_used: int
    slope_per_day: float
    month_end: date


def fit_line(values: list[float]) -> Fit:
    """OLS of values on 0, 1, 2, …"""
    n = len(values)
    xs = range(n)
    x_mean = (n - 1) / 2
    y_mean = sum(values) / n
    sxx = sum((x - x_mean) ** 2 for x in xs)
    slope = sum((x - x_mean) * (y - y_mean) for x, y in zip(xs, values)) / sxx
    intercept = y_mean - slope * x_mean
    sse = sum((y - intercept - slope * x) ** 2 for x, y in zip(xs, values))
    return Fit(intercept, slope, math.sqrt(sse / (n - 2)) if n > 2 else 0.0, n, x_mean, sxx)


def predict_sum(fit: Fit, points: list[tuple[float, float]], level: float = 0.95) -> tuple[float, float]:
    """The line's weighted sum over (x, weight) points and the half-width of its prediction interval."""
    total_w = sum(w for _, w in points)
    total_wx = sum(w * x for x, w in points)
    expected = fit.intercept * total_w + fit.slope * total_wx
    # Var = s² (Σw² + W²/n + (Σwx - W·x̄)² / Sxx): each day's own scatter, then the line's error.
    variance = fit.residual_sd ** 2 * (
        sum(w * w for _, w in points) + total_w ** 2 / fit.n + (total_wx - total_w * fit.x_mean) ** 2 / fit.sxx
    )
    quantile = t_ppf(0.5 + level / 2, fit.n - 2)
    return expected, quantile * math.sqrt(variance)


def month_forecast(daily_spend: dict[date, float], *, now: datetime, level: float = 0.95,
                   history_days: int = HISTORY_DAYS) -> Forecast | None:
    """The forecast for now's month, or None without MIN_DAYS complete days of spend.

    daily_spend holds each UTC day's spend; a day missing from it after the first day with
    spend cost nothing. Days before the first spend are not history (the project is new)."""
    today = now.date()
    month_start = today.replace(day=1)
    month_end = today.replace(day=calendar.monthrange(today.year, today.month)[1])
    month_to_date = sum(v for d, v in daily_spend.items() if month_start <= d <= today)
    earliest = today - timedelta(days=history_days)
    spent_days = sorted(d for d, v in daily_spend.items() if earliest <= d < today and v > 0)
    if not spent_days:
        return None
    first = spent_days[0]
    days = [first + timedelta(days=i) for i in range((today - first).days)]
    if len(days) < MIN_DAYS:
        return None
    fit = fit_line([float(daily_spend.get(d, 0.0)) for d in days])
    elapsed = (now - datetime.combine(today, datetime.min.time(), tzinfo=now.tzinfo)).total_seconds() / 86400
    today_x = float(len(days))
    points = [(today_x, max(1.0 - elapsed, 0.0))]
    points += [(today_x + i, 1.0) for i in range(1, (month_end - today).days + 1)]
    rest, half_width = predict_sum(fit, points, level)
    # Spend never goes down: the month costs at least what it has cost so far.
    expected = month_to_date + max(rest, 0.0)
    return Forecast(
        month_to_date=month_to_date, expected=expected,
        low=max(month_to_date + rest - half_width, month_to_date), high=max(month_to_date + rest + half_width, month_to_date),
        level=level, days_used=len(days), slope_per_day=fit.slope, month_end=month_end,
    )

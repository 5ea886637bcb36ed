"""The detector's statistics against scipy, and the benchmark's promise on generated series."""
from __future__ import annotations

import random

import numpy as np
import pytest
from scipy import stats

from bench import anomalies as bench
from spanlens.anomalies import detector


@pytest.fixture(scope="module")
def samples():
    rng = random.Random(3)
    return [[rng.lognormvariate(6, 0.4) for _ in range(n)] for n in (7, 24, 168, 169)] + [[5.0] * 30 + [9.0]]


def test_mad_and_robust_sigma_match_scipy(samples):
    assert detector.MAD_TO_SIGMA == pytest.approx(1 / stats.norm.ppf(0.75), rel=1e-12)
    for x in samples:
        assert detector.mad(x) == pytest.approx(stats.median_abs_deviation(x), rel=1e-12)
        assert detector.robust_sigma(x) == pytest.approx(stats.median_abs_deviation(x, scale="normal"), rel=1e-9)
        assert detector.median(x) == pytest.approx(float(np.median(x)))


def test_plain_baseline_is_median_and_mad_of_the_week(samples):
    rng = random.Random(5)
    week = [rng.gauss(100, 10) for _ in range(168)]
    series = {a + 1: v for a, v in enumerate(week)} | {0: 100.0}
    base = detector.baseline(series, "error_rate", calls=1e9)  # identity scale, floor negligible
    assert not base.seasonal
    assert base.expected == pytest.approx(np.median(week))
    assert base.spread == pytest.approx(stats.median_abs_deviation(week, scale="normal"))


def test_an_old_spike_does_not_hide_a_new_one():
    rng = random.Random(9)
    series = {a: 500 * np.exp(rng.gauss(0, 0.05)) for a in range(1, 192)}
    for a in range(30, 36):  # six hours at five times the latency, three days ago
        series[a] *= 5
    series[0] = 1500.0
    finding = detector.evaluate(series, "p95_latency_ms")
    assert finding.is_anomaly and finding.direction == "up" and finding.score > 10


def test_seasonal_baseline_compares_with_the_same_hour_of_past_days():
    # Busy at this hour every day: three times the quiet hours. Today's busy hour is normal.
    rng = random.Random(2)
    series = {a: (900 if a % 24 == 0 else 300) + rng.gauss(0, 15) for a in range(1, 192)}
    series[0] = 910.0
    finding = detector.evaluate(series, "requests")
    assert finding.seasonal and not finding.is_anomaly
    assert finding.plain_score > 3  # against the plain week it would have looked like a spike
    series[0] = 2000.0
    assert detector.evaluate(series, "requests").is_anomaly


def test_column_medians_match_numpy_nanmedian():
    rng = np.random.default_rng(4)
    a = rng.normal(size=(6, 24))
    a[rng.random(a.shape) < 0.3] = np.nan
    a[:, 5] = np.nan
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = np.nanmedian(a, axis=0)
    np.testing.assert_allclose(detector._column_medians(a), expected, equal_nan=True)


@pytest.mark.parametrize("k, lam", [(5, 1.0), (12, 3.5), (40, 20.0), (300, 240.0), (3, 0.02)])
def test_the_error_count_test_is_the_poisson_upper_tail(k, lam):
    expected = stats.norm.isf(stats.poisson.sf(k - 1, lam))
    assert detector._poisson_z(k, lam) == pytest.approx(min(expected, 40.0), rel=1e-6)


def test_too_little_history_is_no_verdict():
    assert detector.evaluate({0: 5.0, **{a: 1.0 for a in range(1, 20)}}, "requests") is None
    assert detector.evaluate({a: 1.0 for a in range(1, 100)}, "requests") is None


def test_an_open_anomaly_stays_open_until_the_window_is_back_within_two_sigma():
    rng = random.Random(1)
    series = {a: 1000 + rng.gauss(0, 30) for a in range(1, 192)}
    base = detector.baseline(series, "requests")
    series[0] = (base.center + 2.5 * base.spread) ** 2  # volume is compared as a square root
    finding = detector.evaluate(series, "requests", open_already=False)
    still = detector.evaluate(series, "requests", open_already=True)
    assert 2 <= finding.score < 3 and not finding.is_anomaly and still.is_anomaly


def test_the_benchmark_finds_every_spike_with_at_most_one_false_alarm_per_series_week():
    result = bench.run(series_per_metric=8, seed=11)
    for metric, r in result.items():
        assert r["detection_rate"] == 1.0, (metric, r)
        assert r["false_alarms"] <= r["series"], (metric, r)  # one series = one evaluated week
    assert set(result) == set(detector.METRICS)


def test_leave_one_out_medians_match_the_direct_computation():
    rng = np.random.default_rng(8)
    grid = rng.normal(size=(7, 24)).round(1)  # rounding makes ties
    grid[2, 3] = np.nan
    grid[:, 7] = np.nan
    direct = np.stack([detector._column_medians(np.delete(grid, d, axis=0)) for d in range(7)])
    np.testing.assert_allclose(detector._leave_one_out_medians(grid), direct, equal_nan=True)

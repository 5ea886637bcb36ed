"""Run statistics against scipy on fixed samples (scipy is a test dependency only)."""
from __future__ import annotations

import random

import numpy as np
import pytest
from scipy import stats as sp

from evals import eval_stats

SAMPLES = [
    [0.5, 0.75],
    [0.0, 0.25, 0.25, 0.5, 1.0],
    [0.9] * 3 + [0.1] * 4 + [0.55],
    [random.Random(7).random() for _ in range(37)],
    [random.Random(11).betavariate(2, 5) for _ in range(1000)],
]


@pytest.mark.parametrize("values", SAMPLES)
def test_mean_sd_and_ci_match_scipy(values):
    summary = eval_stats.summarize(values)
    assert summary.mean == pytest.approx(np.mean(values), abs=1e-12)
    assert summary.sd == pytest.approx(np.std(values, ddof=1), abs=1e-12)
    low, high = sp.t.interval(0.95, len(values) - 1, loc=np.mean(values), scale=sp.sem(values))
    low_raw, high_raw = eval_stats.mean_ci(values)
    assert (low_raw, high_raw) == pytest.approx((low, high), abs=1e-9)
    # Shown clipped to the score range.
    assert summary.ci_low == pytest.approx(max(low, 0.0), abs=1e-9)
    assert summary.ci_high == pytest.approx(min(high, 1.0), abs=1e-9)


@pytest.mark.parametrize("df", [1, 2, 3, 7, 30, 120, 999])
@pytest.mark.parametrize("p", [0.6, 0.9, 0.975, 0.995])
def test_t_quantiles_match_scipy(df, p):
    assert eval_stats.t_ppf(p, df) == pytest.approx(sp.t.ppf(p, df), rel=1e-9)
    assert eval_stats.t_cdf(1.3, df) == pytest.approx(sp.t.cdf(1.3, df), abs=1e-12)


@pytest.mark.parametrize("k,n", [(0, 5), (3, 10), (7, 10), (10, 10), (412, 1000)])
def test_pass_rate_interval_is_wilsons(k, n):
    values = [1.0] * k + [0.0] * (n - k)
    summary = eval_stats.summarize(values, threshold=0.5)
    expected = sp.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert summary.passed == k and summary.pass_rate == pytest.approx(k / n)
    assert summary.pass_ci_low == pytest.approx(expected.low, abs=1e-9)
    assert summary.pass_ci_high == pytest.approx(expected.high, abs=1e-9)


@pytest.mark.parametrize("values", SAMPLES)
def test_histogram_matches_numpy(values):
    counts, _ = np.histogram(values, bins=10, range=(0.0, 1.0))
    assert eval_stats.histogram(values) == counts.tolist()


def test_small_samples_have_no_interval():
    assert eval_stats.summarize([]).mean is None
    one = eval_stats.summarize([0.4])
    assert one.mean == 0.4 and one.sd is None and one.ci_low is None

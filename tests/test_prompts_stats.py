"""evals.stats against scipy, and the verdicts evals.prompt_results draws from them."""
from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sp

from evals import stats
from evals.prompt_results import Arm, compare


def close(a, b, rel=1e-9, abs_=1e-15):
    return math.isclose(a, b, rel_tol=rel, abs_tol=abs_)


def test_t_5_with_12_degrees_of_freedom_is_3_1e_4():
    p = stats.t_two_sided_p(5.0, 12)
    assert close(p, 2 * sp.t.sf(5.0, 12))
    assert 3.0e-4 < p < 3.2e-4


@pytest.mark.parametrize("df", [0.5, 1, 2, 3, 4.5, 12, 29, 30, 31, 100, 1000, 1e6])
@pytest.mark.parametrize("t", [-8.0, -2.0, -0.3, 0.0, 0.3, 1.0, 2.0, 2.5, 5.0, 12.0, 40.0])
def test_student_t_tails_match_scipy_for_every_df(t, df):
    # log B(a, b) from lgamma loses a few digits to cancellation when df is in the millions.
    rel = 1e-9 if df < 1e5 else 1e-8
    assert close(stats.t_sf(t, df), sp.t.sf(t, df), rel=rel, abs_=1e-300)
    assert close(stats.t_two_sided_p(t, df), min(1.0, 2 * sp.t.sf(abs(t), df)), rel=rel, abs_=1e-300)


@pytest.mark.parametrize("df", [1, 3, 12, 29.5, 200])
@pytest.mark.parametrize("q", [0.025, 0.5, 0.9, 0.975, 0.999])
def test_t_quantiles_match_scipy(q, df):
    assert close(stats.t_ppf(q, df), sp.t.ppf(q, df), rel=1e-8, abs_=1e-10)


@pytest.mark.parametrize("x, a, b", [(0.1, 0.5, 0.5), (0.5, 2, 3), (0.9, 10, 0.5), (0.999, 200, 0.5),
                                     (1e-6, 0.5, 50), (0.3, 1e3, 1e3)])
def test_regularized_beta_matches_scipy(x, a, b):
    from scipy.special import betainc

    assert close(stats.regularized_beta(x, a, b), betainc(a, b, x), rel=1e-10, abs_=1e-300)


@pytest.mark.parametrize("a, b", [
    ((5, 120.0, 30.0**2), (6, 80.0, 12.0**2)),     # tiny samples: the case large-df series get wrong
    ((12, 1.0, 0.04), (14, 1.3, 0.09)),
    ((30, 250.0, 900.0), (30, 240.0, 1600.0)),
    ((2, 1.0, 1.0), (2, 3.0, 9.0)),
    ((1000, 0.002, 1e-6), (900, 0.0021, 2e-6)),
])
def test_welch_matches_scipy_from_summaries(a, b):
    (na, ma, va), (nb, mb, vb) = a, b
    ours = stats.welch_t_test(stats.Summary(na, ma, va), stats.Summary(nb, mb, vb))
    theirs = sp.ttest_ind_from_stats(mb, math.sqrt(vb), nb, ma, math.sqrt(va), na, equal_var=False)
    assert close(ours.statistic, theirs.statistic)
    assert close(ours.p_value, theirs.pvalue, rel=1e-8)


samples = st.lists(st.floats(min_value=0, max_value=1e4, allow_nan=False), min_size=2, max_size=40)


@settings(max_examples=60, deadline=None)
@given(samples, samples)
def test_welch_matches_scipy_on_raw_samples(xs, ys):
    from statistics import fmean, variance

    if variance(xs) + variance(ys) == 0:
        return
    ours = stats.welch_t_test(stats.Summary(len(xs), fmean(xs), variance(xs)),
                              stats.Summary(len(ys), fmean(ys), variance(ys)))
    theirs = sp.ttest_ind(ys, xs, equal_var=False)
    assert close(ours.p_value, theirs.pvalue, rel=1e-6, abs_=1e-12)


@pytest.mark.parametrize("ea, na, eb, nb", [(5, 100, 15, 100), (40, 1000, 52, 1000), (0, 50, 3, 60),
                                            (200, 4000, 120, 4100)])
def test_two_proportion_z_matches_scipys_chi_square_without_correction(ea, na, eb, nb):
    ours = stats.two_proportion_z_test(ea, na, eb, nb)
    chi2, p, _, _ = sp.chi2_contingency([[ea, na - ea], [eb, nb - eb]], correction=False)
    assert close(ours.statistic ** 2, chi2, rel=1e-9)
    assert close(ours.p_value, p, rel=1e-9)


@pytest.mark.parametrize("na, nb, share", [(500, 500, 0.5), (540, 460, 0.5), (700, 300, 0.3), (5000, 5200, 0.5)])
def test_sample_ratio_mismatch_matches_scipys_chisquare(na, nb, share):
    ours = stats.sample_ratio_mismatch(na, nb, share)
    total = na + nb
    theirs = sp.chisquare([na, nb], [total * (1 - share), total * share])
    assert close(ours.chi2, theirs.statistic) and close(ours.p_value, theirs.pvalue, rel=1e-9)


def test_srm_flags_a_skewed_split_only():
    assert not stats.sample_ratio_mismatch(510, 490, 0.5).mismatch
    assert stats.sample_ratio_mismatch(600, 400, 0.5).mismatch


def test_relative_lift_interval_is_the_delta_method_with_welch_df():
    a, b = stats.Summary(40, 200.0, 400.0), stats.Summary(50, 180.0, 900.0)
    lift = stats.relative_lift_ci(a, b)
    ratio = 180 / 200
    se = ratio * math.sqrt(400 / 40 / 200**2 + 900 / 50 / 180**2)
    df = (400 / 40 + 900 / 50) ** 2 / ((400 / 40) ** 2 / 39 + (900 / 50) ** 2 / 49)
    crit = sp.t.ppf(0.975, df)
    assert close(lift.estimate, ratio - 1)
    assert close(lift.low, ratio - 1 - crit * se, rel=1e-8) and close(lift.high, ratio - 1 + crit * se, rel=1e-8)
    assert stats.relative_lift_ci(stats.Summary(40, 0.0, 0.0), b) is None


def test_sample_size_is_the_normal_approximation():
    n = stats.sample_size_per_arm(sd=100.0, mde=10.0)
    z = sp.norm.ppf(0.975) + sp.norm.ppf(0.8)
    assert n == math.ceil(2 * (z * 100 / 10) ** 2) == 1570


# --- verdicts -----------------------------------------------------------------------

def arm(name, version, calls, latency=(500.0, 100.0**2), cost=(0.001, 1e-8), errors=0, units=None):
    return Arm(name, version, f"id-{name}", calls=calls, units=units if units is not None else calls,
               errors=errors, ok_calls=calls - errors, latency_mean=latency[0], latency_var=latency[1], latency_p50=latency[0],
               latency_p95=latency[0] * 1.5, cost_mean=cost[0], cost_var=cost[1])


def test_too_few_calls_say_not_enough_data_yet():
    results = compare(arm("A", 1, 12), arm("B", 2, 9), 0.5)
    assert results.verdict_kind == "wait"
    assert results.verdict.startswith("Not enough data yet: arm A has 12 calls and arm B has 9")
    assert all(c.p_value is None for c in results.comparisons)


def test_a_clearly_faster_b_is_called_better_with_its_interval():
    results = compare(arm("A", 1, 400), arm("B", 2, 410, latency=(400.0, 100.0**2)), 0.5)
    assert results.verdict_kind == "b_better"
    assert "20.0% faster" in results.verdict and "95% CI" in results.verdict and "p < 0.001" in results.verdict
    latency = results.comparisons[0]
    assert latency.significant and latency.lift_low < -0.2 < latency.lift_high < 0


def test_mixed_results_are_a_trade_off():
    results = compare(arm("A", 1, 400), arm("B", 2, 400, latency=(400.0, 100.0**2), cost=(0.0012, 1e-8)), 0.5)
    assert results.verdict_kind == "tradeoff"
    assert "faster" in results.verdict and "more expensive" in results.verdict


def test_no_difference_is_said_plainly():
    results = compare(arm("A", 1, 300), arm("B", 2, 310, latency=(501.0, 100.0**2)), 0.5)
    assert results.verdict_kind == "same"
    assert results.verdict.startswith("No significant difference between version 1 and version 2")


def test_a_skewed_split_warns_before_anything_else():
    results = compare(arm("A", 1, 700), arm("B", 2, 300, latency=(300.0, 100.0**2)), 0.5)
    assert results.verdict_kind == "srm" and results.srm_mismatch
    assert "Sample ratio mismatch" in results.verdict and "30.0%" in results.verdict


def test_error_rates_are_compared_once_there_are_enough_errors():
    few = compare(arm("A", 1, 100, errors=1), arm("B", 2, 100, errors=2), 0.5).comparisons[2]
    assert not few.enough_data and few.p_value is None
    many = compare(arm("A", 1, 1000, errors=20), arm("B", 2, 1000, errors=60), 0.5)
    errors = many.comparisons[2]
    assert errors.enough_data and errors.significant and "more errors" in many.verdict

"""The paired statistics against scipy on fixtures, to 1e-6."""
from __future__ import annotations

import random

import pytest
from scipy import stats as scipy_stats

from evals import paired_stats

FIXTURES = {
    "small_no_ties": ([0.2, 0.4, 0.5, 0.1, 0.9, 0.3, 0.65, 0.8], [0.31, 0.52, 0.45, 0.37, 0.98, 0.62, 0.69, 0.84]),
    "twenty": ([random.Random(1).random() for _ in range(20)],
               [random.Random(1).random() + random.Random(i).uniform(-0.3, 0.5) for i in range(20)]),
    "sixty": ([random.Random(i).gauss(0.5, 0.2) for i in range(60)],
              [random.Random(i).gauss(0.5, 0.2) + random.Random(100 + i).gauss(0.05, 0.1) for i in range(60)]),
    "judge_scale_ties": ([0.0, 0.25, 0.5, 0.5, 0.75, 1.0, 0.25, 0.5, 0.75, 0.0, 0.5, 0.25, 1.0, 0.75, 0.5, 0.25],
                         [0.25, 0.5, 0.5, 1.0, 0.75, 1.0, 0.75, 0.25, 1.0, 0.5, 0.75, 0.75, 1.0, 1.0, 0.25, 0.5]),
}


@pytest.mark.parametrize("name", FIXTURES)
def test_the_paired_t_test_matches_scipy(name):
    base, cand = FIXTURES[name]
    ours = paired_stats.paired_t_test(base, cand)
    theirs = scipy_stats.ttest_rel(cand, base)
    assert ours.statistic == pytest.approx(theirs.statistic, abs=1e-6)
    assert ours.p_value == pytest.approx(theirs.pvalue, abs=1e-6)


@pytest.mark.parametrize("name", FIXTURES)
def test_the_wilcoxon_signed_rank_test_matches_scipy(name):
    base, cand = FIXTURES[name]
    ours = paired_stats.wilcoxon_signed_rank(base, cand)
    d = [c - b for b, c in zip(base, cand)]
    exact = 0 not in d and len(set(abs(x) for x in d)) == len(d) and len(d) <= 50
    theirs = scipy_stats.wilcoxon(cand, base, method="exact" if exact else "asymptotic")
    assert ours.statistic == pytest.approx(theirs.statistic, abs=1e-6)
    assert ours.p_value == pytest.approx(theirs.pvalue, abs=1e-6)
    if exact or len(d) > 13:  # where scipy's own default picks the same method
        assert ours.p_value == pytest.approx(scipy_stats.wilcoxon(cand, base).pvalue, abs=1e-6)


@pytest.mark.parametrize("b,c", [(3, 9), (0, 5), (7, 7), (12, 30), (1, 0)])
def test_mcnemar_is_the_exact_binomial_test_on_discordant_pairs(b, c):
    base = [True] * b + [False] * c + [True] * 4 + [False] * 3
    cand = [False] * b + [True] * c + [True] * 4 + [False] * 3
    ours = paired_stats.mcnemar(base, cand)
    assert (ours.baseline_only, ours.candidate_only) == (b, c)
    assert ours.p_value == pytest.approx(scipy_stats.binomtest(b, b + c, 0.5).pvalue, abs=1e-6)


def test_mcnemar_without_discordant_pairs_has_no_p_value():
    assert paired_stats.mcnemar([True, False], [True, False]).p_value is None


def test_the_bootstrap_is_seeded_and_brackets_the_mean_difference():
    base, cand = FIXTURES["twenty"]
    first = paired_stats.bootstrap_mean_difference(base, cand, seed=7)
    again = paired_stats.bootstrap_mean_difference(base, cand, seed=7)
    other = paired_stats.bootstrap_mean_difference(base, cand, seed=8)
    assert first == again and first != other
    assert first.low < first.mean_difference < first.high
    # Close to scipy's percentile bootstrap of the mean (its own random stream, so not to 1e-6).
    d = [c - b for b, c in zip(base, cand)]
    theirs = scipy_stats.bootstrap((d,), lambda x, axis: x.mean(axis=axis), method="percentile",
                                   n_resamples=4000, random_state=1).confidence_interval
    assert first.low == pytest.approx(theirs.low, abs=0.03)
    assert first.high == pytest.approx(theirs.high, abs=0.03)


def test_percentile_is_numpys_linear_interpolation():
    import numpy

    values = [12, 5, 80, 33, 41, 7, 19, 250]
    for q in (50, 95, 0, 100, 12.5):
        assert paired_stats.percentile(values, q) == pytest.approx(numpy.percentile(values, q), abs=1e-9)


def test_samples_needed_matches_the_normal_power_formula():
    base, cand = FIXTURES["judge_scale_ties"]
    d = [c - b for b, c in zip(base, cand)]
    import statistics

    z = scipy_stats.norm.ppf(0.975) + scipy_stats.norm.ppf(0.8)
    expected = (z * statistics.stdev(d) / statistics.mean(d)) ** 2
    assert paired_stats.samples_needed(base, cand) == int(expected) + 1


def test_compare_gives_a_verdict_and_a_hint_when_not_significant():
    base = [0.5, 0.6, 0.4, 0.55, 0.5]
    cand = [0.52, 0.58, 0.45, 0.5, 0.56]
    out = paired_stats.compare(base, cand, [True] * 5, [True, True, False, True, True], seed=1)
    assert not out["significant"] and out["samples_needed"] > 5
    assert out["verdict"].startswith("no significant difference") and "items would detect" in out["verdict"]
    better = paired_stats.compare(*FIXTURES["small_no_ties"])
    assert better["significant"] and better["verdict"].startswith("better than the baseline")


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

pairs = st.lists(st.tuples(st.floats(0, 1, allow_nan=False), st.floats(0, 1, allow_nan=False)),
                 min_size=3, max_size=60)


@settings(max_examples=60, deadline=None)
@given(pairs)
def test_the_t_test_and_wilcoxon_agree_with_scipy_on_any_scores(data):
    base, cand = [a for a, _ in data], [b for _, b in data]
    d = [c - b for b, c in zip(base, cand)]
    t = paired_stats.paired_t_test(base, cand)
    if len(set(d)) > 1:
        theirs = scipy_stats.ttest_rel(cand, base)
        assert t.p_value == pytest.approx(theirs.pvalue, abs=1e-6)
    nonzero = [x for x in d if x != 0]
    if nonzero:
        w = paired_stats.wilcoxon_signed_rank(base, cand)
        exact = len(nonzero) == len(d) and len(set(abs(x) for x in d)) == len(d) and len(d) <= 50
        theirs = scipy_stats.wilcoxon(cand, base, method="exact" if exact else "asymptotic")
        assert w.p_value == pytest.approx(theirs.pvalue, abs=1e-6)

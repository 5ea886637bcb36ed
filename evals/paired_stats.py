"""Paired comparisons of two variants scored on the same items: paired t-test, Wilcoxon
signed-rank, McNemar on pass/fail, a seeded bootstrap interval of the mean difference and
the sample size that would detect the observed difference. Pure Python (no scipy at run
time); each function is checked against scipy on fixtures.

Differences are always `candidate - baseline`, so a positive mean means the candidate scores higher.
"""
from __future__ import annotations

import math
import random
from dataclasses import asdict, dataclass

from evals import stats

ALPHA = 0.05
POWER = 0.8
# Above this many non-zero differences the exact null distribution is replaced by the
# normal approximation, as scipy does.
WILCOXON_EXACT_MAX_N = 50
BOOTSTRAP_ITERATIONS = 2000


@dataclass
class PairedTest:
    statistic: float | None
    p_value: float | None
    n: int

    def as_dict(self) -> dict:
        return asdict(self)


def _differences(baseline: list[float], candidate: list[float]) -> list[float]:
    if len(baseline) != len(candidate):
        raise ValueError("paired samples must have the same length")
    return [float(c) - float(b) for b, c in zip(baseline, candidate)]


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def _sd(values: list[float]) -> float:
    m = _mean(values)
    return math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1))


def paired_t_test(baseline: list[float], candidate: list[float]) -> PairedTest:
    """Student's t on the differences (scipy.stats.ttest_rel(candidate, baseline))."""
    d = _differences(baseline, candidate)
    n = len(d)
    if n < 2:
        return PairedTest(None, None, n)
    sd = _sd(d)
    mean = _mean(d)
    if sd == 0:
        # Every pair moved by the same amount: no spread to test against.
        return PairedTest(None, 1.0 if mean == 0 else 0.0, n)
    t = mean / (sd / math.sqrt(n))
    return PairedTest(t, stats.t_two_sided_p(t, n - 1), n)


def _average_ranks(values: list[float]) -> list[float]:
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        rank = (i + j) / 2 + 1
        for k in range(i, j + 1):
            ranks[order[k]] = rank
        i = j + 1
    return ranks


def _exact_signed_rank_cdf(statistic: float, n: int) -> float:
    """P(T <= statistic) for the signed-rank sum of ranks 1..n under the null (no ties)."""
    top = n * (n + 1) // 2
    counts = [0] * (top + 1)
    counts[0] = 1
    for rank in range(1, n + 1):
        for total in range(top, rank - 1, -1):
            counts[total] += counts[total - rank]
    limit = int(math.floor(statistic))
    return sum(counts[: limit + 1]) / 2 ** n


def wilcoxon_signed_rank(baseline: list[float], candidate: list[float]) -> PairedTest:
    """Two-sided, zero differences dropped (scipy.stats.wilcoxon's defaults): exact when
    there are at most 50 pairs, no zero differences and no ties, else the normal
    approximation with the tie correction and no continuity correction (scipy would run a
    permutation test for 13 pairs or fewer with ties; the approximation is what a few more
    items converge to anyway)."""
    every = _differences(baseline, candidate)
    d = [x for x in every if x != 0]
    n = len(d)
    if n == 0:
        return PairedTest(None, None, 0)
    ranks = _average_ranks([abs(x) for x in d])
    r_plus = sum(r for r, x in zip(ranks, d) if x > 0)
    r_minus = sum(r for r, x in zip(ranks, d) if x < 0)
    statistic = min(r_plus, r_minus)
    tied = len(set(abs(x) for x in d)) < n
    if n <= WILCOXON_EXACT_MAX_N and not tied and n == len(every):
        p = min(1.0, 2 * _exact_signed_rank_cdf(statistic, n))
        return PairedTest(statistic, p, n)
    mean = n * (n + 1) / 4
    var = n * (n + 1) * (2 * n + 1) / 24
    groups: dict[float, int] = {}
    for r in ranks:
        groups[r] = groups.get(r, 0) + 1
    var -= sum(t ** 3 - t for t in groups.values()) / 48
    if var <= 0:
        return PairedTest(statistic, 1.0, n)
    z = (statistic - mean) / math.sqrt(var)
    return PairedTest(statistic, min(1.0, 2 * stats.normal_sf(abs(z))), n)


@dataclass
class McNemar:
    baseline_only: int  # passed on the baseline, failed on the candidate
    candidate_only: int
    p_value: float | None
    n: int

    def as_dict(self) -> dict:
        return asdict(self)


def mcnemar(baseline_passed: list[bool], candidate_passed: list[bool]) -> McNemar:
    """The exact test: the discordant pairs against a fair coin (two-sided binomial),
    right for the small counts an experiment has."""
    if len(baseline_passed) != len(candidate_passed):
        raise ValueError("paired samples must have the same length")
    b = sum(1 for x, y in zip(baseline_passed, candidate_passed) if x and not y)
    c = sum(1 for x, y in zip(baseline_passed, candidate_passed) if y and not x)
    n = b + c
    if n == 0:
        return McNemar(b, c, None, len(baseline_passed))
    tail = sum(math.comb(n, i) for i in range(min(b, c) + 1)) / 2 ** n
    return McNemar(b, c, min(1.0, 2 * tail), len(baseline_passed))


@dataclass
class Bootstrap:
    mean_difference: float
    low: float
    high: float
    iterations: int
    seed: int

    def as_dict(self) -> dict:
        return asdict(self)


def _quantile(sorted_values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if len(sorted_values) == 1:
        return sorted_values[0]
    position = q * (len(sorted_values) - 1)
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def percentile(values: list[float], q: float) -> float | None:
    """q in 0..100, as numpy.percentile."""
    if not values:
        return None
    return _quantile(sorted(values), q / 100)


def bootstrap_mean_difference(baseline: list[float], candidate: list[float], *, seed: int = 0,
                              iterations: int = BOOTSTRAP_ITERATIONS, confidence: float = 0.95) -> Bootstrap | None:
    """Percentile interval of the mean difference, resampling pairs; the same seed gives
    the same interval."""
    d = _differences(baseline, candidate)
    if not d:
        return None
    rng = random.Random(seed)
    n = len(d)
    means = sorted(sum(d[rng.randrange(n)] for _ in range(n)) / n for _ in range(iterations))
    tail = (1 - confidence) / 2
    return Bootstrap(_mean(d), _quantile(means, tail), _quantile(means, 1 - tail), iterations, seed)


def samples_needed(baseline: list[float], candidate: list[float], *, alpha: float = ALPHA,
                   power: float = POWER) -> int | None:
    """Pairs a paired t-test would need to detect the observed mean difference with the
    given power (normal approximation); None when there is no difference to detect."""
    d = _differences(baseline, candidate)
    if len(d) < 2:
        return None
    mean, sd = _mean(d), _sd(d)
    if mean == 0 or sd == 0:
        return None
    z = stats.normal_ppf(1 - alpha / 2) + stats.normal_ppf(power)
    return max(2, math.ceil((z * sd / abs(mean)) ** 2))


def compare(baseline: list[float], candidate: list[float], baseline_passed: list[bool] | None = None,
            candidate_passed: list[bool] | None = None, *, seed: int = 0) -> dict:
    """Everything the experiment page shows for one variant against the baseline, with a verdict."""
    t = paired_t_test(baseline, candidate)
    w = wilcoxon_signed_rank(baseline, candidate)
    boot = bootstrap_mean_difference(baseline, candidate, seed=seed)
    out = {
        "n": len(baseline),
        "mean_difference": boot.mean_difference if boot else None,
        "t_test": t.as_dict(),
        "wilcoxon": w.as_dict(),
        "bootstrap": boot.as_dict() if boot else None,
        "mcnemar": None,
        "samples_needed": None,
    }
    if baseline_passed is not None and candidate_passed is not None and baseline_passed:
        out["mcnemar"] = mcnemar(baseline_passed, candidate_passed).as_dict()
    significant = t.p_value is not None and t.p_value < ALPHA
    out["significant"] = significant
    if not significant:
        out["samples_needed"] = samples_needed(baseline, candidate)
    out["verdict"] = verdict(out)
    return out


def _p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3g}"


def verdict(result: dict) -> str:
    n, diff, p = result["n"], result["mean_difference"], result["t_test"]["p_value"]
    if n < 2 or diff is None:
        return "not enough paired items to compare"
    if p is None:
        return "no difference in scores"
    direction = "better" if diff > 0 else "worse"
    if result["significant"]:
        return f"{direction} than the baseline by {abs(diff):.3f} ({_p(p)})"
    hint = f"; about {result['samples_needed']} items would detect a difference this size" \
        if result.get("samples_needed") else ""
    return f"no significant difference ({diff:+.3f}, {_p(p)}){hint}"

"""The statistical tests behind the A/B results, and nothing else.

Pure functions on summary statistics, checked against scipy in the tests (scipy
is a development dependency only). The Student t distribution is computed
exactly for every df through the regularized incomplete beta function —
series that assume large df give p ≈ 1 for small samples (t = 5, df = 12 must
give p ≈ 3.1e-4, not 1).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

ALPHA = 0.05
SRM_ALPHA = 0.001  # the usual SRM threshold: a split this unlikely means the assignment is broken
MIN_CALLS_PER_ARM = 30


# --- distributions -------------------------------------------------------------------

def _beta_continued_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of I_x(a, b), evaluated with the modified Lentz method."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 10_000):
        m2 = 2 * m
        # Even step.
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        # Odd step.
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def regularized_beta(x: float, a: float, b: float) -> float:
    """I_x(a, b) for a, b > 0 and 0 <= x <= 1."""
    if a <= 0 or b <= 0:
        raise ValueError("a and b must be positive")
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    log_front = a * math.log(x) + b * math.log1p(-x) - (math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b))
    # The fraction converges fast only below the mean; above it, use I_x(a,b) = 1 - I_{1-x}(b,a).
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_continued_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_continued_fraction(b, a, 1.0 - x) / b


def t_sf(t: float, df: float) -> float:
    """P(T > t) for Student's t with df degrees of freedom (any df > 0)."""
    if df <= 0 or math.isnan(t) or math.isnan(df):
        raise ValueError("df must be positive")
    if math.isinf(t):
        return 0.0 if t > 0 else 1.0
    if math.isinf(df):
        return normal_sf(t)
    t2 = t * t
    if abs(t) < 1.0:
        # Near 0, df / (df + t²) rounds to 1; the central mass I_{t²/(df+t²)}(1/2, df/2) keeps the
        # digits, and the tail is large enough (> 0.15) that subtracting it from 0.5 costs none.
        tail = 0.5 - 0.5 * regularized_beta(t2 / (df + t2), 0.5, df / 2.0)
    else:
        tail = 0.5 * regularized_beta(df / (df + t2), df / 2.0, 0.5)
    return tail if t >= 0 else 1.0 - tail


def t_cdf(t: float, df: float) -> float:
    return 1.0 - t_sf(t, df)


def t_two_sided_p(t: float, df: float) -> float:
    if math.isinf(t):
        return 0.0
    if math.isinf(df):
        return 2.0 * normal_sf(abs(t))
    return min(1.0, 2.0 * t_sf(abs(t), df))


def t_ppf(q: float, df: float) -> float:
    """The q-quantile of Student's t (bisection: monotone, exact to ~1e-12)."""
    if not 0 < q < 1:
        raise ValueError("q must be in (0, 1)")
    lo, hi = -1.0, 1.0
    while t_cdf(lo, df) > q:
        lo *= 2
    while t_cdf(hi, df) < q:
        hi *= 2
    for _ in range(200):
        mid = (lo + hi) / 2
        if t_cdf(mid, df) < q:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12 * max(1.0, abs(mid)):
            break
    return (lo + hi) / 2


def normal_sf(z: float) -> float:
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def normal_ppf(q: float) -> float:
    if not 0 < q < 1:
        raise ValueError("q must be in (0, 1)")
    lo, hi = -40.0, 40.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if 1.0 - normal_sf(mid) < q:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def chi2_sf_df1(x: float) -> float:
    """P(χ²₁ > x): a χ² with one degree of freedom is a squared standard normal."""
    return math.erfc(math.sqrt(max(x, 0.0) / 2.0))


# --- tests ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Summary:
    """One arm's sample of a metric: size, mean and sample variance (ddof = 1)."""

    n: int
    mean: float
    var: float


@dataclass(frozen=True)
class TestResult:
    statistic: float
    p_value: float
    df: float | None = None

    @property
    def significant(self) -> bool:
        return self.p_value < ALPHA


def welch_t_test(a: Summary, b: Summary) -> TestResult:
    """Welch's unequal-variance t-test of mean(b) - mean(a), two-sided."""
    if a.n < 2 or b.n < 2:
        raise ValueError("each sample needs at least two values")
    va, vb = max(a.var, 0.0) / a.n, max(b.var, 0.0) / b.n
    se2 = va + vb
    if se2 == 0:
        same = a.mean == b.mean
        return TestResult(0.0 if same else math.copysign(math.inf, b.mean - a.mean), 1.0 if same else 0.0, None)
    t = (b.mean - a.mean) / math.sqrt(se2)
    df = welch_df(a, b)
    return TestResult(t, t_two_sided_p(t, df), df)


def welch_df(a: Summary, b: Summary) -> float:
    """Welch–Satterthwaite degrees of freedom."""
    va, vb = max(a.var, 0.0) / a.n, max(b.var, 0.0) / b.n
    total = va + vb
    if total == 0:
        return math.inf
    # In shares of the total, so tiny variances cannot underflow to 0 / 0.
    ra, rb = va / total, vb / total
    return 1.0 / (ra * ra / (a.n - 1) + rb * rb / (b.n - 1))


def two_proportion_z_test(successes_a: int, n_a: int, successes_b: int, n_b: int) -> TestResult:
    """Pooled two-proportion z-test of p_b - p_a, two-sided."""
    if n_a <= 0 or n_b <= 0:
        raise ValueError("each arm needs at least one trial")
    pa, pb = successes_a / n_a, successes_b / n_b
    pooled = (successes_a + successes_b) / (n_a + n_b)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    if se == 0:
        return TestResult(0.0, 1.0)
    z = (pb - pa) / se
    return TestResult(z, math.erfc(abs(z) / math.sqrt(2.0)))


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float


def relative_lift_ci(a: Summary, b: Summary, confidence: float = 0.95) -> Interval | None:
    """mean(b) / mean(a) - 1 with its confidence interval (delta method, Welch df).

    None when arm A's mean is 0 (a relative change from nothing is undefined).
    """
    if a.mean == 0 or a.n < 2 or b.n < 2:
        return None
    ratio = b.mean / a.mean
    se_a2, se_b2 = max(a.var, 0.0) / a.n, max(b.var, 0.0) / b.n
    rel_var = se_a2 / (a.mean * a.mean) + (se_b2 / (b.mean * b.mean) if b.mean else 0.0)
    se = abs(ratio) * math.sqrt(rel_var) if b.mean else math.sqrt(se_b2) / abs(a.mean)
    df = welch_df(a, b)
    crit = normal_ppf(0.5 + confidence / 2) if math.isinf(df) else t_ppf(0.5 + confidence / 2, df)
    lift = ratio - 1.0
    return Interval(lift, lift - crit * se, lift + crit * se)


def proportion_summary(successes: int, n: int) -> Summary:
    """A 0/1 metric as a Summary (variance with ddof = 1, as for the other metrics)."""
    p = successes / n if n else 0.0
    var = p * (1 - p) * n / (n - 1) if n > 1 else 0.0
    return Summary(n, p, var)


@dataclass(frozen=True)
class SrmCheck:
    chi2: float
    p_value: float
    expected_share_b: float
    observed_share_b: float

    @property
    def mismatch(self) -> bool:
        return self.p_value < SRM_ALPHA


def sample_ratio_mismatch(n_a: int, n_b: int, share_b: float) -> SrmCheck | None:
    """χ² goodness of fit of the observed split to the configured one (share_b in 0..1)."""
    total = n_a + n_b
    if total == 0 or not 0 < share_b < 1:
        return None
    expected_a, expected_b = total * (1 - share_b), total * share_b
    chi2 = (n_a - expected_a) ** 2 / expected_a + (n_b - expected_b) ** 2 / expected_b
    return SrmCheck(chi2, chi2_sf_df1(chi2), share_b, n_b / total)


def sample_size_per_arm(sd: float, mde: float, *, alpha: float = ALPHA, power: float = 0.8) -> int | None:
    """Calls per arm to detect an absolute difference `mde` in a mean with this power."""
    if mde <= 0 or sd <= 0:
        return None
    z = normal_ppf(1 - alpha / 2) + normal_ppf(power)
    return max(MIN_CALLS_PER_ARM, math.ceil(2 * (z * sd / mde) ** 2))


def enough_for_proportions(errors_a: int, n_a: int, errors_b: int, n_b: int) -> bool:
    """The z-test's normal approximation holds: ≥ 5 expected errors and non-errors in each arm."""
    if min(n_a, n_b) < MIN_CALLS_PER_ARM:
        return False
    pooled = (errors_a + errors_b) / (n_a + n_b)
    return min(n_a, n_b) * min(pooled, 1 - pooled) >= 5

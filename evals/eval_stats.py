"""Statistics of a run's scores: mean, standard deviation, 95 % confidence interval,
pass rate (with its Wilson interval) and a histogram. Pure Python: scipy checks these
in the tests but is never needed at run time."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

_TINY = 1e-300
_EPS = 1e-14


def _beta_fraction(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz evaluation)."""
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    for m in range(1, 500):
        for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                          -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > _TINY else _TINY)
            c = 1.0 + numerator / c
            c = c if abs(c) > _TINY else _TINY
            h *= d * c
        if abs(d * c - 1.0) < _EPS:
            break
    return h


def incomplete_beta(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    front = math.exp(log_front)
    # The fraction converges fast only on one side of the mean; use the symmetry on the other.
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _beta_fraction(a, b, x) / a
    return 1.0 - front * _beta_fraction(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    tail = 0.5 * incomplete_beta(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t >= 0 else tail


def t_ppf(p: float, df: float) -> float:
    """The Student t quantile, by bisection on the CDF (monotone, so always converges)."""
    if not 0.0 < p < 1.0:
        raise ValueError("p must be in (0, 1)")
    if p < 0.5:
        return -t_ppf(1.0 - p, df)
    low, high = 0.0, 1.0
    while t_cdf(high, df) < p:
        high *= 2.0
    for _ in range(200):
        mid = (low + high) / 2.0
        if t_cdf(mid, df) < p:
            low = mid
        else:
            high = mid
        if high - low < 1e-12:
            break
    return (low + high) / 2.0


def normal_ppf(p: float) -> float:
    """The standard normal quantile by bisection on erf (for the Wilson interval)."""
    low, high = -40.0, 40.0
    for _ in range(200):
        mid = (low + high) / 2.0
        if 0.5 * (1.0 + math.erf(mid / math.sqrt(2.0))) < p:
            low = mid
        else:
            high = mid
    return (low + high) / 2.0


def mean(values: list[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def stdev(values: list[float]) -> float | None:
    """Sample standard deviation (n - 1)."""
    if len(values) < 2:
        return None
    m = mean(values)
    return math.sqrt(math.fsum((v - m) ** 2 for v in values) / (len(values) - 1))


def mean_ci(values: list[float], confidence: float = 0.95) -> tuple[float, float] | None:
    """The t interval for the mean; None below two values."""
    if len(values) < 2:
        return None
    m, s, n = mean(values), stdev(values), len(values)
    half = t_ppf(0.5 + confidence / 2.0, n - 1) * s / math.sqrt(n)
    return (m - half, m + half)


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float] | None:
    if n == 0:
        return None
    z = normal_ppf(0.5 + confidence / 2.0)
    p = successes / n
    denominator = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return (max(centre - half, 0.0), min(centre + half, 1.0))


def histogram(values: list[float], bins: int = 10) -> list[int]:
    """Counts over [0, 1] in equal bins; 1.0 falls in the last one."""
    counts = [0] * bins
    for v in values:
        index = min(int(v * bins), bins - 1) if v >= 0 else 0
        counts[index] += 1
    return counts


@dataclass
class Summary:
    n: int
    mean: float | None
    sd: float | None
    ci_low: float | None
    ci_high: float | None
    pass_threshold: float | None
    passed: int | None
    pass_rate: float | None
    pass_ci_low: float | None
    pass_ci_high: float | None
    histogram: list[int]

    def as_dict(self) -> dict:
        return asdict(self)


def summarize(scores: list[float], threshold: float | None = None) -> Summary:
    """Scores live in 0..1, so the mean's interval is clipped to it (small samples overshoot)."""
    ci = mean_ci(scores)
    if ci is not None:
        ci = (max(ci[0], 0.0), min(ci[1], 1.0))
    passed = sum(1 for s in scores if s >= threshold) if threshold is not None else None
    pass_ci = wilson_interval(passed, len(scores)) if passed is not None else None
    return Summary(
        n=len(scores), mean=mean(scores), sd=stdev(scores),
        ci_low=ci[0] if ci else None, ci_high=ci[1] if ci else None,
        pass_threshold=threshold, passed=passed,
        pass_rate=(passed / len(scores)) if passed is not None and scores else None,
        pass_ci_low=pass_ci[0] if pass_ci else None, pass_ci_high=pass_ci[1] if pass_ci else None,
        histogram=histogram(scores),
    )

"""The one statistic alerts compute themselves: a quantile of weighted values."""
from __future__ import annotations


def weighted_quantile(histogram: list[tuple[float, float]], q: float) -> float | None:
    """The smallest value whose cumulative weight reaches q of the total (the inverted CDF,
    numpy's method="inverted_cdf"); histogram is (value, weight) sorted by value."""
    total = sum(w for _, w in histogram)
    if total <= 0:
        return None
    target = q * total
    running = 0.0
    for value, weight in histogram:
        running += weight
        # Relative slack: weights are 1 / sample_rate floats, whose sums round.
        if running >= target * (1 - 1e-12):
            return value
    return histogram[-1][0]

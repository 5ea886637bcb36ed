"""How far a judge agrees with people on the same items: Pearson and Spearman for numeric
scores, Cohen's kappa for labels. Pure Python; checked against scipy and scikit-learn."""
from __future__ import annotations

import math

from evals.paired_stats import _average_ranks

CALIBRATED_AT = 30


def pearson(x: list[float], y: list[float]) -> float | None:
    if len(x) != len(y):
        raise ValueError("paired samples must have the same length")
    n = len(x)
    if n < 2:
        return None
    mx, my = sum(x) / n, sum(y) / n
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y))
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    if sxx == 0 or syy == 0:
        return None  # one side never varies: correlation is undefined
    return max(-1.0, min(1.0, sxy / math.sqrt(sxx * syy)))


def spearman(x: list[float], y: list[float]) -> float | None:
    """Pearson on average ranks (ties share their rank), as scipy.stats.spearmanr."""
    return pearson(_average_ranks(list(x)), _average_ranks(list(y)))


def cohen_kappa(a: list, b: list) -> float | None:
    if len(a) != len(b):
        raise ValueError("paired samples must have the same length")
    n = len(a)
    if n == 0:
        return None
    labels = set(a) | set(b)
    observed = sum(1 for x, y in zip(a, b) if x == y) / n
    expected = sum((a.count(k) / n) * (b.count(k) / n) for k in labels)
    if expected == 1:
        return None  # both raters used one and the same label throughout
    return (observed - expected) / (1 - expected)

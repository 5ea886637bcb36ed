"""How a request-log row counts in an aggregate: by 1 / sample_rate.

An SDK that keeps one call in ten records sample_rate = 0.1 on each kept row, so every
kept row stands for ten calls. Errors are kept whatever the rate and carry 1, so they
count once. Every total, average and rate shown to a user is built from these
expressions, so sampled traffic reads as an estimate of the whole.

They are SQL fragments for queries of the `requests` table only; values never go into
them, so they are safe to splice into a statement that binds its own parameters.
"""
from __future__ import annotations

# sample_rate is Float32: 0.1 is stored as 0.100000001, so the weight is rounded back to
# the rate's inverse. A rate outside (0, 1] (impossible from the proxy) counts once.
WEIGHT = "if(sample_rate > 0 AND sample_rate <= 1, round(1.0 / toFloat64(sample_rate), 4), 1.0)"
COST = "toFloat64(ifNull(cost_usd, toDecimal64(0, 8)))"
SAVED = "toFloat64(ifNull(cost_saved_usd, toDecimal64(0, 8)))"
# Rows that stand for more than one call: any of them makes the aggregate an estimate.
SAMPLED_ROWS = "countIf(sample_rate < 1)"


def est_count(condition: str | None = None) -> str:
    """Estimated calls (of those matching `condition`)."""
    return f"sumIf({WEIGHT}, {condition})" if condition else f"sum({WEIGHT})"


def est_sum(expression: str, condition: str | None = None) -> str:
    """Estimated total of a per-call value, e.g. est_sum(COST) or est_sum('total_tokens')."""
    value = f"toFloat64({expression}) * {WEIGHT}"
    return f"sumIf({value}, {condition})" if condition else f"sum({value})"


def est_avg(expression: str) -> str:
    """The per-call mean over all calls the rows stand for (a weighted mean; NULL without rows).
    Spelled out rather than avgWeighted, which the embedded engine's build leaves out."""
    return f"sum(toFloat64({expression}) * {WEIGHT}) / nullIf(sum({WEIGHT}), 0)"


def kept_share(rows: int, estimated: float) -> float | None:
    """The share of calls the stored rows are, for "≈ … (10 % sampled)"; None when nothing was sampled."""
    if not rows or not estimated or rows >= estimated - 1e-6:
        return None
    return rows / estimated

"""An anomaly's numbers as people read them."""
from __future__ import annotations


def format_value(metric: str, value: float | None) -> str:
    if value is None:
        return "—"
    if metric == "p95_latency_ms":
        return f"{value:,.0f} ms"
    if metric == "cost_usd":
        return f"${value:,.2f}" if value >= 0.01 else f"${value:,.4f}"
    if metric == "error_rate":
        return f"{value * 100:.1f} %"
    return f"{value:,.0f}"


METRIC_UNITS = {"p95_latency_ms": "p95 latency of the hour", "cost_usd": "spend in the hour",
                "error_rate": "share of calls that failed", "requests": "calls in the hour"}

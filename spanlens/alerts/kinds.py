"""What each kind of rule watches, in words and defaults: what the form, the list and the
messages need. How a kind is measured lives in spanlens.alerts.conditions."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    label: str
    unit: str  # usd | percent | ms | count | score
    description: str
    comparison: str = "above"  # the rule fires when the value is above (or below) the threshold
    default_threshold: float | None = None
    default_window: int = 60
    # Which narrowing fields apply: project, end_user, api_key, evaluator.
    scopes: tuple[str, ...] = ("project",)
    uses_threshold: bool = True
    uses_window: bool = True
    uses_min_requests: bool = False
    # The window is how long the value must stay over the threshold (a gauge read each minute),
    # not a span of calls to aggregate.
    sustained: bool = False
    # Raised by another part of Spanlens (services.fire_external), never evaluated here.
    pushed: bool = False
    window_label: str = "Window"


KINDS: dict[str, Kind] = {
    "spend": Kind(
        "Spend over a window", "usd", "Cost of the calls in the window, for the organization, a project, an "
        "end user or an API key.", default_threshold=50.0, default_window=24 * 60,
        scopes=("project", "end_user", "api_key")),
    "error_rate": Kind(
        "Error rate", "percent", "Share of calls that failed (4xx, 5xx, no answer, or an error inside a stream).",
        default_threshold=5.0, default_window=15, scopes=("project", "end_user", "api_key"), uses_min_requests=True),
    "p95_latency": Kind(
        "p95 latency", "ms", "95th percentile of the calls' latency, arrival to last byte.",
        default_threshold=5000.0, default_window=15, scopes=("project", "end_user", "api_key")),
    "anomaly": Kind(
        "Any anomaly", "count", "Open anomalies in latency, cost, errors or volume.", default_threshold=0.0,
        scopes=(), uses_window=False),
    "eval_score": Kind(
        "Eval score below a threshold", "score", "Average score (0–1) of the evaluator's latest completed run.",
        comparison="below", default_threshold=0.7, scopes=("evaluator",), uses_window=False),
    "fallback_queue": Kind(
        "Fallback queue size", "count", "Request-log rows waiting in the fallback table because ClickHouse "
        "refused them.", default_threshold=1000.0, default_window=30, scopes=(), sustained=True,
        window_label="For at least"),
    "unpriced_models": Kind(
        "Unpriced models seen", "count", "Calls to models without a price: their spend is missing from totals.",
        default_threshold=0.0, default_window=60),
    "data_silence": Kind(
        "Data silence", "count", "A project that sent calls every day of the past week sent none in the last "
        "24 hours.", default_threshold=0.0, default_window=24 * 60, uses_threshold=False, uses_window=False),
    "proxy_overhead_p95": Kind(
        "Proxy overhead p95", "ms", "95th percentile of the time Spanlens itself added to calls.",
        default_threshold=80.0, default_window=10),
    "server_error_rate": Kind(
        "5xx rate", "percent", "Share of calls answered with a 5xx status.", default_threshold=1.0,
        default_window=5, uses_min_requests=True),
    "truncated_streams": Kind(
        "Truncated streams", "percent", "Share of streaming calls cut before their end (stream deadline).",
        default_threshold=5.0, default_window=60, uses_min_requests=True),
    "budget": Kind(
        "Budget reached", "percent", "Sent when a budget reaches 80 % and 100 % of its limit.",
        scopes=(), uses_threshold=False, uses_window=False, pushed=True),
}

# The "What to monitor" table of the scaling guide: every organization starts with these.
DEFAULT_RULES = (
    {"name": "Proxy overhead p95 over 80 ms", "kind": "proxy_overhead_p95", "threshold": 80.0, "window_minutes": 10},
    {"name": "5xx rate over 1 %", "kind": "server_error_rate", "threshold": 1.0, "window_minutes": 5},
    {"name": "Fallback queue over 1,000 rows", "kind": "fallback_queue", "threshold": 1000.0, "window_minutes": 30},
    {"name": "Truncated streams over 5 %", "kind": "truncated_streams", "threshold": 5.0, "window_minutes": 60},
)


def window_label(minutes: int) -> str:
    if minutes % (24 * 60) == 0:
        days = minutes // (24 * 60)
        return "24 h" if days == 1 else f"{days} d"
    if minutes % 60 == 0:
        return f"{minutes // 60} h"
    return f"{minutes} min"


def format_value(unit: str, value: float | None) -> str:
    if value is None:
        return "—"
    if unit == "usd":
        if value == 0:
            return "$0"
        return f"${value:,.2f}" if value >= 1 else f"${value:.4f}"
    if unit == "percent":
        return f"{value:.2f} %".replace(".00 ", " ")
    if unit == "ms":
        return f"{value:,.0f} ms"
    if unit == "score":
        return f"{value:.2f}"
    return f"{value:,.0f}"


def condition_label(rule) -> str:
    """The rule's condition in words: "p95 > 80 ms over 10 min"."""
    kind = KINDS.get(rule.kind)
    if kind is None:
        return rule.kind
    if kind.pushed:
        return "at 80 % and 100 % of a budget"
    if rule.kind == "data_silence":
        return "no calls for 24 h after a week of daily traffic"
    sign = "<" if kind.comparison == "below" else ">"
    text = f"{sign} {format_value(kind.unit, rule.threshold)}"
    if kind.uses_window:
        text += f" for {window_label(rule.window_minutes)}" if kind.sustained else \
            f" over {window_label(rule.window_minutes)}"
    return text

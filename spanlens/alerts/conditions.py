"""How each kind of rule is measured: kind → a plain function of the rule returning a Reading.

Request-log figures come from spanlens.requestlog.alert_queries (tenant-scoped, sampled
calls weighted by 1 / sample_rate); the rest from the relational database.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from django.conf import settings

from spanlens.alerts.kinds import KINDS, format_value, window_label


@dataclass
class Reading:
    value: float | None  # None: not enough data to judge (neither firing nor resolving)
    breached: bool
    detail: str = ""
    fields: list[list[str]] = field(default_factory=list)


def open_anomaly_count(organization_id) -> int:
    """Open, unacknowledged anomalies of an organization (what /anomalies lists first)."""
    from spanlens.anomalies.services import active

    return active(organization_id).count()


def _scope(rule) -> dict:
    return {"organization_id": str(rule.organization_id), "minutes": rule.window_minutes,
            "project_id": str(rule.project_id) if rule.project_id else None, "user_id": rule.end_user or None,
            "api_key_id": str(rule.api_key_id) if rule.api_key_id else None,
            "retention_days": rule.organization.retention_days}


def _window(rule) -> dict:
    from spanlens.requestlog import alert_queries

    return alert_queries.get_alert_window(**_scope(rule))


def _compare(rule, value: float) -> bool:
    kind = KINDS[rule.kind]
    threshold = rule.threshold if rule.threshold is not None else kind.default_threshold or 0.0
    return value < threshold if kind.comparison == "below" else value > threshold


def _estimate_note(w: dict) -> str:
    rate = w["min_sample_rate"]
    return f" (≈ estimated from sampled calls, sample rate {rate:g})" if rate < 1 else ""


def _fields(rule, w: dict | None = None, **extra) -> list[list[str]]:
    """Facts beside the message (the rule's own condition is added by the caller)."""
    rows = []
    if w is not None:
        rows.append(["Calls", f"{'≈' if w['min_sample_rate'] < 1 else ''}{w['requests']:,.0f}"])
    rows.extend([k.replace("_", " ").capitalize(), str(v)] for k, v in extra.items())
    return rows


def spend(rule) -> Reading:
    w = _window(rule)
    value = w["spend_usd"]
    return Reading(value, _compare(rule, value),
                   f"{format_value('usd', value)} spent in the last {window_label(rule.window_minutes)}"
                   + _estimate_note(w), _fields(rule, w))


def _rate(rule, numerator: str, denominator: str, what: str) -> Reading:
    w = _window(rule)
    calls = w[denominator]
    if calls < max(rule.min_requests, 1):
        return Reading(None, False, f"{calls:,.0f} {what} in the last {window_label(rule.window_minutes)}, "
                                    f"fewer than the {rule.min_requests} needed to judge", _fields(rule, w))
    value = 100.0 * w[numerator] / calls
    return Reading(value, _compare(rule, value),
                   f"{format_value('percent', value)} of {calls:,.0f} {what} in the last "
                   f"{window_label(rule.window_minutes)}" + _estimate_note(w), _fields(rule, w))


def error_rate(rule) -> Reading:
    return _rate(rule, "errors", "requests", "calls")


def server_error_rate(rule) -> Reading:
    return _rate(rule, "server_errors", "requests", "calls")


def truncated_streams(rule) -> Reading:
    return _rate(rule, "truncated_streams", "streams", "streaming calls")


def _p95(rule, column: str, what: str) -> Reading:
    from spanlens.alerts.stats import weighted_quantile
    from spanlens.requestlog import alert_queries

    rows = alert_queries.list_alert_value_weights(column=column, **_scope(rule))
    value = weighted_quantile([(r["value"], r["weight"]) for r in rows], 0.95)
    if value is None:
        return Reading(None, False, f"no calls in the last {window_label(rule.window_minutes)}", [])
    calls = sum(r["weight"] for r in rows)
    sampled = sum(r["calls"] for r in rows) < round(calls)
    return Reading(value, _compare(rule, value),
                   f"{what} p95 {format_value('ms', value)} over the last {window_label(rule.window_minutes)}",
                   [["Calls", f"{'≈' if sampled else ''}{calls:,.0f}"]])


def p95_latency(rule) -> Reading:
    return _p95(rule, "latency_ms", "Latency")


def proxy_overhead_p95(rule) -> Reading:
    return _p95(rule, "proxy_overhead_ms", "Proxy overhead")


def unpriced_models(rule) -> Reading:
    w = _window(rule)
    value = float(w["unpriced_calls"])
    models = ", ".join(w["unpriced_models"]) or "none"
    return Reading(value, _compare(rule, value),
                   f"{value:,.0f} unpriced calls in the last {window_label(rule.window_minutes)}: {models}",
                   _fields(rule, w, models=models))


def anomaly(rule) -> Reading:
    value = float(open_anomaly_count(rule.organization_id))
    return Reading(value, _compare(rule, value), f"{value:,.0f} open anomal{'y' if value == 1 else 'ies'}",
                   _fields(rule))


def eval_score(rule) -> Reading:
    from evals.models import EvalRun

    run = (EvalRun.objects.filter(organization_id=rule.organization_id, evaluator_id=rule.evaluator_id,
                                  status=EvalRun.Status.COMPLETED, avg_score__isnull=False)
           .order_by("-finished_at", "-created_at").first())
    if run is None:
        return Reading(None, False, "no completed run of the evaluator yet", _fields(rule))
    value = float(run.avg_score)
    name = rule.evaluator.name if rule.evaluator_id else "the evaluator"
    return Reading(value, _compare(rule, value),
                   f"{name} scored {value:.2f} on its latest run ({run.total} samples)",
                   _fields(rule, run=f"{settings.WEB_URL}/evals/runs/{run.id}/"))


def fallback_queue(rule) -> Reading:
    from spanlens.core.models import RequestFallback

    # The fallback table is shared by the install; each row carries its tenant.
    value = float(RequestFallback.objects.filter(row__organization_id=str(rule.organization_id)).count())
    return Reading(value, _compare(rule, value), f"{value:,.0f} rows waiting in the fallback queue", _fields(rule))


def data_silence(rule) -> Reading:
    from spanlens.core.models import Project
    from spanlens.requestlog import alert_queries

    silent = alert_queries.list_silent_projects(
        organization_id=str(rule.organization_id), project_id=str(rule.project_id) if rule.project_id else None,
        retention_days=rule.organization.retention_days)
    names = dict(Project.objects.filter(organization_id=rule.organization_id).values_list("id", "name"))
    labels = [names.get(_uuid(row["project_id"]), row["project_id"]) for row in silent]
    if not labels:
        return Reading(0.0, False, "every project with daily traffic sent calls in the last 24 h", [])
    return Reading(float(len(labels)), True,
                   f"No calls for 24 h from {', '.join(labels)}, which sent calls every day of the past week",
                   [["Projects", ", ".join(labels)], ["Last call", ", ".join(str(r["last_seen"])[:16] for r in silent)]])


def _uuid(value):
    import uuid

    return uuid.UUID(str(value))


CONDITIONS: dict[str, Callable[..., Reading]] = {
    "spend": spend,
    "error_rate": error_rate,
    "p95_latency": p95_latency,
    "anomaly": anomaly,
    "eval_score": eval_score,
    "fallback_queue": fallback_queue,
    "unpriced_models": unpriced_models,
    "data_silence": data_silence,
    "proxy_overhead_p95": proxy_overhead_p95,
    "server_error_rate": server_error_rate,
    "truncated_streams": truncated_streams,
}

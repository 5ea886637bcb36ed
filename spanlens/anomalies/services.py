"""Every write about anomalies (detect, acknowledge, snapshot), and what other pages read."""
from __future__ import annotations

import logging
from collections import defaultdict
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Q

from spanlens.anomalies.display import format_value
from spanlens.anomalies.models import Anomaly, AnomalySnapshot
from spanlens.core.models import ApiKey, Organization, Project
from spanlens.requestlog import insights

if TYPE_CHECKING:
    from spanlens.anomalies.detector import Finding

# The detector (numpy, ~10 MB) is imported by the functions that detect: the pages and APIs
# that import this module only read anomalies, and a web process beside a Celery worker
# never detects.
log = logging.getLogger("spanlens.anomalies")
# An hour with fewer stored calls than this says little about its latency or error rate.
MIN_HOUR_ROWS = 5


# --- detection --------------------------------------------------------------------

def _series_by_scope(rows: list[dict]) -> dict[tuple[str, str], dict[str, dict]]:
    """list_hourly_metrics rows -> per scope, per metric, {hours ago: value}, and the calls."""
    grouped: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for row in rows:
        grouped[(row["kind"], row["key"])].append(row)
    out = {}
    for scope, hours in grouped.items():
        by_ago = {int(r["ago"]): r for r in hours}
        # Volume and spend are 0 in an hour without calls, but only since the scope first
        # appeared: a model that is two days old has no week of zeros behind it.
        first = max(by_ago)
        calls = {a: float(by_ago[a]["calls"]) if a in by_ago else 0.0 for a in range(first + 1)}
        out[scope] = {
            "calls": calls,
            "requests": dict(calls),
            "cost_usd": {a: float(by_ago[a]["spend"]) if a in by_ago else 0.0 for a in range(first + 1)},
            "p95_latency_ms": {a: float(r["p95_latency"]) for a, r in by_ago.items()
                               if int(r["ok_rows"]) >= MIN_HOUR_ROWS},
            "error_rate": {a: float(r["errors"]) / float(r["calls"]) for a, r in by_ago.items()
                           if int(r["rows"]) >= MIN_HOUR_ROWS and float(r["calls"]) > 0},
        }
    return out


def detect_for_organization(organization_id, *, now: datetime | None = None) -> dict[str, int]:
    """One detector run for one organization: every (provider, model) and project, every
    metric, the last hour against the 7 days before it. Opens, updates and resolves
    anomalies; running it twice for the same `now` changes nothing the second time."""
    from spanlens.anomalies import detector

    org = Organization.objects.get(id=organization_id)
    now = (now or datetime.now(timezone.utc)).replace(microsecond=0)
    rows = insights.list_hourly_metrics(organization_id=str(org.id), now=now, hours=detector.SERIES_HOURS,
                                        retention_days=org.retention_days)
    open_now = {(a.scope_kind, a.scope_key, a.metric): a
                for a in Anomaly.objects.filter(organization=org, resolved_at__isnull=True)}
    seen: set[tuple[str, str, str]] = set()
    counts = {"opened": 0, "updated": 0, "resolved": 0}
    projects = {str(p.id): p for p in Project.objects.filter(organization=org)}
    for (kind, key), series in _series_by_scope(rows).items():
        if kind == "project" and key not in projects:
            continue
        window_calls = series["calls"].get(0, 0.0)
        for metric in detector.METRICS:
            if metric in ("p95_latency_ms", "error_rate") and window_calls < settings.ANOMALY_MIN_CALLS:
                continue
            ident = (kind, key, metric)
            current = open_now.get(ident)
            finding = detector.evaluate(series[metric], metric, threshold=settings.ANOMALY_THRESHOLD,
                                        calls=window_calls, open_already=current is not None)
            if finding is None or not finding.is_anomaly:
                continue
            seen.add(ident)
            if current is not None:
                _update(current, finding, now)
                counts["updated"] += 1
            elif _open(org, kind, key, projects.get(key) if kind == "project" else None, finding, series,
                       window_calls, now):
                counts["opened"] += 1
    for ident, anomaly in open_now.items():
        if ident not in seen and anomaly.last_seen_at < now:
            anomaly.resolved_at = now
            anomaly.save(update_fields=["resolved_at"])
            counts["resolved"] += 1
    return counts


def _update(anomaly: Anomaly, finding: Finding, now: datetime) -> None:
    if anomaly.last_seen_at >= now:
        return
    anomaly.last_seen_at = now
    anomaly.value, anomaly.score = finding.value, finding.score
    anomaly.peak_score = max(anomaly.peak_score, abs(finding.score))
    anomaly.save(update_fields=["last_seen_at", "value", "score", "peak_score"])


def _open(org, kind, key, project, finding: Finding, series: dict, window_calls: float,
          now: datetime) -> Anomaly | None:
    from spanlens.anomalies import detector

    factors = contributing_factors(org, kind, key, now)
    chart = detector.band(series[finding.metric], finding.metric, threshold=settings.ANOMALY_THRESHOLD,
                          calls=series["calls"])
    try:
        with transaction.atomic():
            anomaly = Anomaly.objects.create(
                organization=org, scope_kind=kind, scope_key=key, project=project, metric=finding.metric,
                direction=finding.direction, opened_at=now, last_seen_at=now, value=finding.value,
                expected=finding.expected, scale=finding.scale, score=finding.score,
                peak_score=abs(finding.score), seasonal=finding.seasonal, baseline_hours=finding.baseline_hours,
                window_calls=window_calls, confidence=finding.confidence, factors=factors, chart=chart,
            )
    except IntegrityError:
        return None  # another run opened it a moment ago
    transaction.on_commit(lambda: on_anomaly_opened(anomaly))
    return anomaly


def on_anomaly_opened(anomaly: Anomaly) -> None:
    """Called once per anomaly, after it is saved; where notifications hook in."""
    log.info("anomaly opened: %s %s on %s %s (z=%.1f)", anomaly.metric, anomaly.direction, anomaly.scope_kind,
             anomaly.scope_key, anomaly.score)


# --- contributing factors ----------------------------------------------------------

TOKEN_SHIFT = 1.25  # a token count per call this many times higher (or lower) than usual
DOMINANT_SHARE = 0.5


def contributing_factors(org, kind: str, key: str, now: datetime) -> list[dict]:
    """What was different in the window: token mix, errors, one user / key / model / project
    taking most of the calls. Each item: {"kind", "text", ...details}."""
    from spanlens.anomalies.detector import BASELINE_HOURS

    window_start = now - timedelta(hours=1)
    raw = insights.get_anomaly_factors(
        organization_id=str(org.id), kind=kind, key=key, window_start=window_start, window_end=now,
        baseline_start=window_start - timedelta(hours=BASELINE_HOURS), retention_days=org.retention_days,
    )
    factors: list[dict] = []
    window, base = raw["tokens"].get("window"), raw["tokens"].get("baseline")
    if window and base:
        for field, label in (("avg_prompt_tokens", "Prompt tokens per call"),
                             ("avg_completion_tokens", "Completion tokens per call")):
            w, b = float(window[field] or 0), float(base[field] or 0)
            if b > 0 and w > 0 and (w / b >= TOKEN_SHIFT or w / b <= 1 / TOKEN_SHIFT):
                factors.append({"kind": "tokens", "field": field, "window": w, "baseline": b,
                                "text": f"{label}: {w:,.0f} against {b:,.0f} usually ({w / b:.1f}×)"})
    for e in raw["errors"][:3]:
        message = (e["message"] or "").strip() or "no message"
        factors.append({"kind": "error", "status": int(e["status_code"]), "calls": float(e["calls"]),
                        "text": f"{int(e['status_code']) or 'no answer'} × {float(e['calls']):,.0f}: {message}"})
    total_w = float(window["calls"]) if window else 0.0
    total_b = float(base["calls"]) if base else 0.0
    names = _names(org, raw["shares"])
    dims = [("user", "User"), ("api_key", "API key"), ("project" if kind == "model" else "model",
                                                        "Project" if kind == "model" else "Model")]
    for dim, label in dims:
        rows = raw["shares"].get(dim) or []
        if not rows or not rows[0]["value"] or not total_w:
            continue
        top = rows[0]
        share = float(top["window_calls"]) / total_w
        usual = float(top["baseline_calls"]) / total_b if total_b else 0.0
        if share >= DOMINANT_SHARE and share - usual >= 0.2:
            name = names.get((dim, top["value"]), top["value"])
            factors.append({"kind": dim, "value": top["value"], "share": share, "usual": usual,
                            "text": f"{label} {name} made {share:.0%} of the hour's calls ({usual:.0%} usually)"})
    return factors


def _names(org, shares: dict) -> dict[tuple[str, str], str]:
    ids = {r["value"] for r in shares.get("api_key", []) if r["value"]}
    keys = ApiKey.objects.filter(organization=org, id__in=ids)
    names = {("api_key", str(k.id)): k.name or k.prefix for k in keys}
    pids = {r["value"] for r in shares.get("project", []) if r["value"]}
    names.update({("project", str(p.id)): p.name for p in Project.objects.filter(organization=org, id__in=pids)})
    return names


# --- reads for pages -------------------------------------------------------------

def scope_label(anomaly: Anomaly) -> str:
    if anomaly.scope_kind == Anomaly.ScopeKind.PROJECT:
        return f"Project {anomaly.project.name}" if anomaly.project else "A deleted project"
    return anomaly.scope_key


def visible(organization_id, project_id: str | None = None):
    """The organization's anomalies. With a project chosen, only that project's own: a
    model's anomaly may come from any project's calls, so it is not shown as the project's."""
    qs = Anomaly.objects.filter(organization_id=organization_id)
    if project_id:
        qs = qs.filter(scope_kind=Anomaly.ScopeKind.PROJECT, project_id=project_id)
    return qs


def active(organization_id, project_id: str | None = None):
    """Open and not acknowledged: what the stat strip counts and /anomalies lists first."""
    return visible(organization_id, project_id).filter(resolved_at__isnull=True, acknowledged_at__isnull=True)


def count_active(organization_id, project_id: str | None = None) -> int:
    return active(organization_id, project_id).count()


def hourly_openings(organization_id, *, now: datetime | None = None, project_id: str | None = None) -> list[dict]:
    """Anomalies opened per hour over the last 24 hours (the stat strip's spark line)."""
    now = now or datetime.now(timezone.utc)
    since = now - timedelta(hours=24)
    out: dict[str, int] = defaultdict(int)
    for opened in visible(organization_id, project_id).filter(opened_at__gte=since).values_list("opened_at",
                                                                                                 flat=True):
        out[opened.astimezone(timezone.utc).strftime("%Y-%m-%d %H")] += 1
    return [{"hour": f"{h}:00:00", "anomalies": n} for h, n in out.items()]


def open_anomalies(*, organization_id, limit: int = 5) -> list:
    """Active anomalies (open, not acknowledged) of the whole organization, worst first, for
    the home page and alerts. Each item is a dict:

    {"id": str, "url": "/anomalies/<id>/", "metric": "p95_latency_ms" | "cost_usd" | "error_rate"
     | "requests", "metric_label": str, "direction": "up" | "down", "scope_kind": "model" | "project",
     "scope_key": str, "scope_label": str, "project_id": str | None, "opened_at": datetime,
     "last_seen_at": datetime, "value": float, "expected": float, "value_text": str,
     "expected_text": str, "score": float, "peak_score": float, "confidence": float (0..1),
     "factors": [str, ...]}
    """
    rows = (active(organization_id).select_related("project")
            .order_by("-peak_score", "-opened_at")[: max(int(limit), 0)])
    return [as_dict(a) for a in rows]


def as_dict(a: Anomaly) -> dict:
    return {
        "id": str(a.id), "url": f"/anomalies/{a.id}/", "metric": a.metric, "metric_label": a.get_metric_display(),
        "direction": a.direction, "scope_kind": a.scope_kind, "scope_key": a.scope_key, "scope_label": scope_label(a),
        "project_id": str(a.project_id) if a.project_id else None, "opened_at": a.opened_at,
        "last_seen_at": a.last_seen_at, "value": a.value, "expected": a.expected,
        "value_text": format_value(a.metric, a.value), "expected_text": format_value(a.metric, a.expected),
        "score": a.score, "peak_score": a.peak_score, "confidence": a.confidence,
        "factors": [f["text"] for f in a.factors or []],
    }


# --- writes from pages -----------------------------------------------------------

class AcknowledgeError(ValueError):
    pass


NOTE_MAX = 2000


def acknowledge_anomaly(anomaly: Anomaly, *, user, note: str) -> Anomaly:
    """Hide an anomaly from the open list, with a note on what it was; idempotent (a
    second acknowledgement keeps the first one's time and author, and updates the note)."""
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise AcknowledgeError(f"the note must be at most {NOTE_MAX} characters")
    with transaction.atomic():
        anomaly = Anomaly.objects.select_for_update().get(id=anomaly.id)
        if anomaly.acknowledged_at is None:
            anomaly.acknowledged_at = datetime.now(timezone.utc)
            anomaly.acknowledged_by = user
        anomaly.note = note
        anomaly.save(update_fields=["acknowledged_at", "acknowledged_by", "note"])
    return anomaly


# --- daily snapshots -------------------------------------------------------------

def take_daily_snapshot(organization_id, day: date) -> AnomalySnapshot:
    """The anomalies opened on `day` (UTC) and those still open at its end; rewriting a day
    replaces its row, so the task may run as often as it likes."""
    start = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
    end = start + timedelta(days=1)
    qs = Anomaly.objects.filter(organization_id=organization_id).select_related("project")
    opened = list(qs.filter(opened_at__gte=start, opened_at__lt=end).order_by("-peak_score"))
    still_open = qs.filter(opened_at__lt=end).filter(Q(resolved_at__isnull=True) | Q(resolved_at__gte=end)).count()
    by_metric = dict(qs.filter(opened_at__gte=start, opened_at__lt=end).values_list("metric")
                     .annotate(n=Count("id")).order_by())
    summary = [{"id": str(a.id), "metric": a.metric, "metric_label": a.get_metric_display(),
                "scope_label": scope_label(a), "direction": a.direction, "peak_score": round(a.peak_score, 1),
                "opened_at": a.opened_at.isoformat(),
                "resolved_at": a.resolved_at.isoformat() if a.resolved_at else None,
                "acknowledged": a.acknowledged_at is not None, "note": a.note[:200]} for a in opened[:50]]
    snapshot, _ = AnomalySnapshot.objects.update_or_create(
        organization_id=organization_id, day=day,
        defaults={"opened": len(opened), "open_at_end": still_open, "by_metric": by_metric, "anomalies": summary},
    )
    return snapshot

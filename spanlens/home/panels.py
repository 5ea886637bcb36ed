"""The home page's panels fed by other parts of the product: open anomalies, recent alert
deliveries and savings available. Each returns plain dicts for its panel; an empty list
shows the panel's empty state.
"""
from __future__ import annotations

from spanlens.core.access import Access

PANEL_LIMIT = 5


def open_anomalies(access: Access, *, project_id: str | None = None, limit: int = PANEL_LIMIT) -> list[dict]:
    """Open (unacknowledged) anomalies, worst first: {"title", "detail", "url", "severity", "started_at"}."""
    from spanlens.anomalies import services as anomalies

    rows = anomalies.active(access.organization.id, project_id).order_by("-peak_score", "-opened_at")[:limit]
    out = []
    for a in rows:
        item = anomalies.as_dict(a)
        out.append({"title": f"{item['metric_label']} {item['direction']} · {item['scope_label']}",
                    "detail": f"{item['value_text']} against {item['expected_text']}", "url": item["url"],
                    "severity": item["peak_score"], "started_at": item["opened_at"]})
    return out


def recent_alert_deliveries(access: Access, *, limit: int = PANEL_LIMIT) -> list[dict]:
    """The latest alert notifications sent: {"title", "channel", "status", "sent_at", "url"}."""
    from spanlens.alerts.services import recent_deliveries

    return [{"title": d["title"], "channel": d["channel"], "status": d["status_label"],
             "sent_at": d["delivered_at"] or d["created_at"], "url": d["url"]}
            for d in recent_deliveries(organization_id=access.organization.id, limit=limit)]


def available_savings(access: Access, *, project_id: str | None = None, limit: int = PANEL_LIMIT) -> list[dict]:
    """The largest savings on offer: {"title", "detail", "monthly_usd", "url"}."""
    from spanlens.savings.services import savings_summary

    # Savings are worked out over the whole organization (a substitute is a model-wide choice):
    # a page scoped to one project would show other projects' traffic, so it shows none.
    if project_id:
        return []
    return [{"title": f"{s['model']} → {s['substitute_model']}",
             "detail": f"{s['confidence']} confidence, {s['calls_sampled']:,} calls", "monthly_usd": s["monthly_saving_usd"],
             "url": s["url"]}
            for s in savings_summary(organization_id=access.organization.id)["top"][:limit]]

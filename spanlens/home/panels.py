"""The home page's panels fed by other parts of the product: open anomalies, recent alert
deliveries and savings available. Each returns plain dicts for its panel; an empty list
shows the panel's empty state.
"""
from __future__ import annotations

from spanlens.core.access import Access

PANEL_LIMIT = 5


def open_anomalies(access: Access, *, project_id: str | None = None, limit: int = PANEL_LIMIT) -> list[dict]:
    """Open (unacknowledged) anomalies, newest first: {"title", "detail", "url", "severity", "started_at"}."""
    return []


def recent_alert_deliveries(access: Access, *, limit: int = PANEL_LIMIT) -> list[dict]:
    """The latest alert notifications sent: {"title", "channel", "status", "sent_at", "url"}."""
    return []


def available_savings(access: Access, *, project_id: str | None = None, limit: int = PANEL_LIMIT) -> list[dict]:
    """The largest savings on offer: {"title", "detail", "monthly_usd", "url"}."""
    return []

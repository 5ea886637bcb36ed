"""Stand-ins for the anomaly and savings services the anomalies and savings tools report.

They answer "nothing found" with the shapes the real services return, so the
tools, their schemas and their tests are in place before those services are.
"""
from __future__ import annotations


def open_anomalies(*, organization_id, limit: int = 5) -> list[dict]:
    return []


def savings_summary(*, organization_id) -> dict:
    return {"suggestions": [], "total_monthly_savings_usd": 0.0}

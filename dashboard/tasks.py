"""Background work for the dashboard: replaying a logged request."""
from __future__ import annotations

import time
from types import SimpleNamespace

import orjson
from celery import shared_task


@shared_task
def replay_request(*, organization_id: str, request_id: str, model: str | None = None) -> dict:
    """Re-run a logged call (optionally on another model) and log it as a new row.

    Takes ids and re-fetches, so it is safe to enqueue; returns what the result card shows.
    """
    from dashboard import replay
    from proxy.logentry import PendingLog
    from spanlens.core.models import Organization
    from spanlens.requestlog import queries
    from spanlens.requestlog.writer import write_batch

    org = Organization.objects.get(id=organization_id)
    row = queries.get_request(organization_id=org.id, request_id=request_id, retention_days=org.retention_days)
    if row is None:
        return {"error": "No such request."}
    try:
        built = replay.build(row, model)
        key = replay.provider_key_for(row)
        created_at = time.time()
        status, body, latency_ms = replay.call_upstream(row["provider"], built, key)
    except replay.ReplayError as exc:
        return {"error": str(exc)}

    tenant = SimpleNamespace(
        organization_id=str(org.id), project_id=row["project_id"], api_key_id=row.get("api_key_id")
    )
    meta = {k: row[k] for k in ("user_id", "session_id") if row.get(k)}
    entry = PendingLog(created_at=created_at, tenant=tenant, provider=row["provider"],
                       endpoint=built.endpoint, method="POST", meta=meta)
    entry.provider_key_id = str(key.id)
    entry.price_free = key.price_free
    entry.model = built.model
    entry.request_body = orjson.dumps(built.body)
    entry.response_raw = body
    entry.status_code = status
    entry.latency_ms = latency_ms
    new_row = entry.to_row()
    write_batch([new_row])
    return {
        "request_id": new_row["id"],
        "model": new_row["model"] or built.model,
        "status_code": status,
        "latency_ms": latency_ms,
        "prompt_tokens": new_row["prompt_tokens"],
        "completion_tokens": new_row["completion_tokens"],
        "total_tokens": new_row["total_tokens"],
        "cost_usd": float(new_row["cost_usd"]) if new_row["cost_usd"] is not None else None,
        "output": _output_text(row["provider"], body),
        "error": None,
    }


def _output_text(provider: str, body: bytes) -> str:
    """The assistant text, for the result card."""
    from dashboard.bodies import response_text

    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body.decode("utf-8", "replace")[:2000]
    return response_text(provider, data)[:4000]

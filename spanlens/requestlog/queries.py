"""Every ClickHouse statement Spanlens runs. Reads take organization_id keyword-only.

The tenant and retention filter is added by _scope() in one place; no other
module builds SQL for the request log.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Iterable

from spanlens.requestlog.engine import encode_rows, get_engine

REQUEST_COLUMNS = (
    "id", "organization_id", "project_id", "api_key_id", "provider_key_id", "provider", "model",
    "endpoint", "method", "stream", "prompt_tokens", "completion_tokens", "total_tokens",
    "cache_read_tokens", "cache_write_tokens", "cost_usd", "latency_ms", "proxy_overhead_ms",
    "status_code", "request_body", "response_body", "trace_id", "span_id", "prompt_version_id",
    "user_id", "session_id", "log_body", "flags", "response_flags", "truncated", "error_message",
    "created_at",
)
# Everything but the bodies: what list views need.
SUMMARY_COLUMNS = tuple(c for c in REQUEST_COLUMNS if c not in ("request_body", "response_body"))


def format_ts(value: datetime) -> str:
    """DateTime64(3, 'UTC') text form, which both engines parse the same way."""
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value.strftime("%Y-%m-%d %H:%M:%S.") + f"{value.microsecond // 1000:03d}"


def _scope(organization_id: str, retention_days: int) -> tuple[str, dict[str, Any]]:
    """The tenant boundary: organization and plan retention, on every read."""
    return (
        "organization_id = {org:UUID} AND created_at >= now64(3) - toIntervalDay({retention:UInt32})",
        {"org": str(organization_id), "retention": int(retention_days)},
    )


# --- writes -------------------------------------------------------------------

def insert_requests(rows: Iterable[dict[str, Any]]) -> None:
    """Rows are dicts keyed by REQUEST_COLUMNS (missing columns take their defaults)."""
    payload = encode_rows(rows)
    if payload:
        get_engine().insert_json_rows("requests", payload)


# --- reads --------------------------------------------------------------------

def get_request(*, organization_id: str, request_id: str, retention_days: int = 365) -> dict | None:
    where, params = _scope(organization_id, retention_days)
    rows = get_engine().select(
        f"SELECT {', '.join(REQUEST_COLUMNS)} FROM requests WHERE {where} AND id = {{id:UUID}} LIMIT 1",
        {**params, "id": str(request_id)},
    )
    return rows[0] if rows else None


def list_recent_requests(
    *, organization_id: str, limit: int = 20, retention_days: int = 365
) -> list[dict]:
    where, params = _scope(organization_id, retention_days)
    return get_engine().select(
        f"SELECT {', '.join(SUMMARY_COLUMNS)} FROM requests WHERE {where} "
        "ORDER BY created_at DESC, id DESC LIMIT {limit:UInt32}",
        {**params, "limit": int(limit)},
    )


def count_requests(*, organization_id: str, retention_days: int = 365) -> int:
    where, params = _scope(organization_id, retention_days)
    rows = get_engine().select(f"SELECT count() AS n FROM requests WHERE {where}", params)
    return int(rows[0]["n"]) if rows else 0


def count_rows_since(*, organization_id: str | None = None, seconds: int) -> int:
    """Rows written in the last N seconds (health checks; all tenants when org is None)."""
    params: dict[str, Any] = {"secs": int(seconds)}
    where = "created_at >= now64(3) - toIntervalSecond({secs:UInt32})"
    if organization_id is not None:
        where += " AND organization_id = {org:UUID}"
        params["org"] = str(organization_id)
    rows = get_engine().select(f"SELECT count() AS n FROM requests WHERE {where}", params)
    return int(rows[0]["n"]) if rows else 0


# --- benchmark ----------------------------------------------------------------
# Used by `make bench` only, on a throwaway chDB folder, to time dashboard reads
# at volume. The rows are made inside ClickHouse from numbers(), so generating
# millions of them costs no Python and no network.

def generate_bench_rows(*, organization_id: str, project_id: str, count: int, days: int = 30,
                        start: int = 0) -> None:
    """count synthetic calls for one project, spread evenly over the last `days` days."""
    get_engine().command(
        f"INSERT INTO requests ({', '.join(REQUEST_COLUMNS)}) "
        "SELECT generateUUIDv4(number), {org:UUID}, {project:UUID}, NULL, NULL, "
        "['openai', 'anthropic', 'gemini'][number % 3 + 1], "
        "['gpt-4o-mini', 'gpt-4o', 'claude-3-5-haiku-20241022', 'gemini-1.5-flash'][number % 4 + 1], "
        "['v1/chat/completions', 'v1/messages', 'v1/embeddings'][number % 3 + 1], 'POST', number % 2 = 0, "
        "20 + number % 500, 5 + number % 300, 25 + number % 500 + number % 300, 0, 0, "
        "toDecimal64((20 + number % 500) * 0.00000015 + (5 + number % 300) * 0.0000006, 8), "
        "100 + number % 2000, number % 7, if(number % 50 = 0, 429, if(number % 97 = 0, 500, 200)), "
        "concat('{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"question ', "
        "toString(number), ' ', repeat('lorem ipsum ', 40), '\"}]}'), "
        "concat('{\"id\":\"chatcmpl-', toString(number), '\",\"choices\":[{\"message\":{\"content\":\"', "
        "repeat('dolor sit amet ', 25), '\"}}]}'), "
        "NULL, NULL, NULL, if(number % 10 = 0, concat('user-', toString(number % 1000)), NULL), NULL, "
        "'full', '[]', '[]', false, '', "
        "now64(3) - toIntervalMillisecond(intDiv((number - {start:UInt64}) * {span_ms:UInt64}, {count:UInt64})) "
        "FROM numbers({start:UInt64}, {count:UInt64})",
        {"org": str(organization_id), "project": str(project_id), "count": int(count), "start": int(start),
         "span_ms": int(days) * 86_400_000},
    )

"""Reads for the home page: usage over time by a dimension, daily spend, top spenders.

Every figure is weighted by 1 / sample_rate (see weighting); `sampled_rows` > 0 on a
result says it is an estimate.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from spanlens.requestlog import rollup
from spanlens.requestlog import weighting as W
from spanlens.requestlog.engine import get_engine
from spanlens.requestlog.queries import _request_filters

# What the charts stack by. Calls without a user count under the empty key.
DIMENSIONS = {
    "model": "model",
    "provider": "provider",
    "project": "toString(project_id)",
    "user": "ifNull(user_id, '')",
}
# The key of everything outside the top keys; no model, provider, project or user id is empty bytes.
OTHER = "\x00other"
TOP_DIMENSIONS = {"user": "ifNull(user_id, '')", "prompt": "ifNull(toString(prompt_version_id), '')"}


def list_usage_series(
    *, organization_id: str, since: datetime, bucket_seconds: int, dimension: str = "model", top: int = 6,
    retention_days: int = 365, project_id: str | None = None,
) -> list[dict]:
    """Estimated requests and spend per time bucket and key since `since`: the `top` keys by spend
    each on their own, every other key together under OTHER. Buckets without traffic are absent."""
    key = DIMENSIONS[dimension]
    if bucket_seconds % 3600 == 0:
        # Buckets of whole hours: a rollup answers (by user, the rollup by end user).
        of = rollup.USERS if dimension == "user" else rollup.HOURLY
        source, params = rollup.hours(organization_id=organization_id, retention_days=retention_days,
                                      of=of, project_id=project_id, since=since)
        source, key, m = f"({source})", ("end_user" if dimension == "user" else key), rollup.MEASURES
    else:
        where, params = _request_filters(organization_id, retention_days, project_id=project_id, since=since)
        source, m = f"requests WHERE {where}", rollup.ROW_MEASURES
    return get_engine().select(
        f"WITH (SELECT groupArray(k) FROM (SELECT {key} AS k FROM {source} GROUP BY k "
        f"ORDER BY {m['spend']} DESC, {m['kept']} DESC, k LIMIT {{top:UInt32}})) AS top_keys "
        f"SELECT toStartOfInterval({m['time']}, toIntervalSecond({{bucket:UInt32}})) AS bucket, "
        f"if(has(top_keys, {key}), {key}, {{other:String}}) AS series, {m['calls']} AS requests, "
        f"{m['spend']} AS spend_usd, {m['sampled']} AS sampled_rows, {m['kept']} AS kept_rows "
        f"FROM {source} GROUP BY bucket, series ORDER BY bucket, series",
        {**params, "top": int(top), "bucket": int(bucket_seconds), "other": OTHER},
    )


def get_usage_totals(
    *, organization_id: str, since: datetime, retention_days: int = 365, project_id: str | None = None,
) -> dict[str, Any]:
    """Estimated totals since `since`: requests, spend, tokens, errors, mean latency."""
    source, params = rollup.hours(organization_id=organization_id, retention_days=retention_days,
                                  project_id=project_id, since=since)
    R = rollup
    row = get_engine().select(
        f"SELECT {R.KEPT} AS kept_rows, {R.CALLS} AS requests, {R.SPEND} AS spend_usd, "
        f"{R.TOKENS} AS total_tokens, {R.calls_if(R.ERROR)} AS errors, "
        f"{R.AVG_LATENCY} AS avg_latency_ms, {R.SAMPLED} AS sampled_rows FROM ({source})",
        params,
    )[0]
    kept = int(row["kept_rows"])
    requests = float(row["requests"] or 0) if kept else 0.0
    errors = float(row["errors"] or 0) if kept else 0.0
    return {
        "kept_rows": kept,
        "requests": round(requests),
        "spend_usd": float(row["spend_usd"] or 0) if kept else 0.0,
        "total_tokens": round(float(row["total_tokens"] or 0)) if kept else 0,
        "errors": round(errors),
        "error_rate": errors / requests if requests else 0.0,
        "avg_latency_ms": float(row["avg_latency_ms"] or 0) if kept else 0.0,
        "sampled_rows": int(row["sampled_rows"] or 0),
        "kept_share": W.kept_share(kept, requests),
    }


def list_daily_spend(
    *, organization_id: str, since: datetime, retention_days: int = 365, project_id: str | None = None,
) -> list[dict]:
    """Estimated spend per UTC day since `since` (days without traffic are absent): the forecast's input."""
    source, params = rollup.hours(organization_id=organization_id, retention_days=retention_days,
                                  project_id=project_id, since=since)
    return get_engine().select(
        f"SELECT toString(toDate(hour)) AS day, {rollup.SPEND} AS spend_usd, "
        f"{rollup.SAMPLED} AS sampled_rows FROM ({source}) GROUP BY day ORDER BY day",
        params,
    )


def list_top_spenders(
    *, organization_id: str, since: datetime, dimension: str = "user", limit: int = 5,
    retention_days: int = 365, project_id: str | None = None,
) -> list[dict]:
    """The end users (or prompt versions) with the highest estimated spend since `since`."""
    if dimension == "user":
        source, params = rollup.hours(organization_id=organization_id, retention_days=retention_days,
                                      of=rollup.USERS, project_id=project_id, since=since)
        source, key, m = f"({source})", "end_user", rollup.MEASURES
    else:
        where, params = _request_filters(organization_id, retention_days, project_id=project_id, since=since)
        source, key, m = f"requests WHERE {where}", TOP_DIMENSIONS[dimension], rollup.ROW_MEASURES
    return get_engine().select(
        f"SELECT {key} AS key, {m['calls']} AS requests, {m['spend']} AS spend_usd, {m['tokens']} AS total_tokens, "
        f"{m['sampled']} AS sampled_rows FROM {source} GROUP BY key HAVING key != '' "
        "ORDER BY spend_usd DESC, requests DESC, key LIMIT {limit:UInt32}",
        {**params, "limit": int(limit)},
    )

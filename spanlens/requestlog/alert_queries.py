"""The request-log reads alert rules evaluate: one window of an organization's traffic,
projects gone quiet. Sampled rows count 1 / sample_rate times, as every aggregate does."""
from __future__ import annotations

from typing import Any

from spanlens.requestlog.engine import get_engine, stored_nothing_for
from spanlens.requestlog.queries import ERROR_CONDITION, _scope

# A row's weight. sample_rate is 1 for unsampled calls and for errors kept whatever the
# rate; the floor only guards a malformed 0 from an old SDK.
WEIGHT = "(1 / greatest(toFloat64(sample_rate), 0.000001))"
QUANTILE_COLUMNS = {"latency_ms": "latency_ms", "proxy_overhead_ms": "proxy_overhead_ms"}


def _window_filters(organization_id, minutes, project_id, user_id, api_key_id, retention_days):
    where, params = _scope(organization_id, retention_days)
    where += " AND created_at >= now64(3) - toIntervalSecond({secs:UInt32})"
    params["secs"] = int(minutes) * 60
    if project_id:
        where += " AND project_id = {project_id:UUID}"
        params["project_id"] = str(project_id)
    if user_id:
        where += " AND user_id = {user_id:String}"
        params["user_id"] = user_id
    if api_key_id:
        where += " AND api_key_id = {api_key_id:UUID}"
        params["api_key_id"] = str(api_key_id)
    return where, params


# A window without calls. In the embedded default the alert rules (every minute) then answer
# from this instead of reading the log, so an idle install's store process can rest.
EMPTY_WINDOW = {"rows": 0, "requests": 0.0, "errors": 0.0, "server_errors": 0.0, "spend_usd": 0.0, "streams": 0.0,
                "truncated_streams": 0.0, "unpriced_calls": 0, "unpriced_models": [], "min_sample_rate": 1.0}


def get_alert_window(
    *,
    organization_id: str,
    minutes: int,
    project_id: str | None = None,
    user_id: str | None = None,
    api_key_id: str | None = None,
    retention_days: int = 365,
) -> dict[str, Any]:
    """Every figure a rule may compare, over the last `minutes` of one organization's calls
    (optionally one project, end user or API key), in one scan."""
    if stored_nothing_for(int(minutes) * 60):
        return dict(EMPTY_WINDOW, unpriced_models=[])  # what the scan answers for no rows
    where, params = _window_filters(organization_id, minutes, project_id, user_id, api_key_id, retention_days)
    row = get_engine().select(
        f"SELECT count() AS rows, sum({WEIGHT}) AS requests, "
        f"sumIf({WEIGHT}, {ERROR_CONDITION}) AS errors, "
        f"sumIf({WEIGHT}, status_code >= 500 AND status_code < 600) AS server_errors, "
        f"sum(toFloat64(ifNull(cost_usd, toDecimal64(0, 8))) * {WEIGHT}) AS spend_usd, "
        f"sumIf({WEIGHT}, stream) AS streams, sumIf({WEIGHT}, stream AND truncated) AS truncated_streams, "
        "countIf(cost_source = 'unknown') AS unpriced_calls, "
        "arraySort(groupUniqArrayIf(20)(concat(provider, '/', model), cost_source = 'unknown' AND model != '')) "
        "AS unpriced_models, min(sample_rate) AS min_sample_rate "
        f"FROM requests WHERE {where}",
        params,
    )[0]
    rows = int(row["rows"])
    return {
        "rows": rows,
        "requests": float(row["requests"] or 0),
        "errors": float(row["errors"] or 0),
        "server_errors": float(row["server_errors"] or 0),
        "spend_usd": float(row["spend_usd"] or 0),
        "streams": float(row["streams"] or 0),
        "truncated_streams": float(row["truncated_streams"] or 0),
        "unpriced_calls": int(row["unpriced_calls"] or 0),
        "unpriced_models": list(row["unpriced_models"] or []),
        # Below 1: some figures are estimates scaled up from sampled calls.
        "min_sample_rate": float(row["min_sample_rate"]) if rows else 1.0,
    }


def list_alert_value_weights(
    *,
    organization_id: str,
    column: str,
    minutes: int,
    project_id: str | None = None,
    user_id: str | None = None,
    api_key_id: str | None = None,
    retention_days: int = 365,
) -> list[dict]:
    """value, summed weight and calls per distinct value of a millisecond column in the window, by
    value: what a weighted quantile needs (the embedded engine has no weighted quantile, and
    there are far fewer distinct milliseconds than calls)."""
    if stored_nothing_for(int(minutes) * 60):
        return []
    where, params = _window_filters(organization_id, minutes, project_id, user_id, api_key_id, retention_days)
    rows = get_engine().select(
        f"SELECT {QUANTILE_COLUMNS[column]} AS value, sum({WEIGHT}) AS weight, count() AS calls "
        f"FROM requests WHERE {where} GROUP BY value ORDER BY value",
        params,
    )
    return [{"value": float(r["value"]), "weight": float(r["weight"]), "calls": int(r["calls"])} for r in rows]


def list_silent_projects(
    *, organization_id: str, days: int = 7, project_id: str | None = None, retention_days: int = 365
) -> list[dict]:
    """Projects that sent calls in each of the `days` 24-hour periods before the last 24 hours,
    and none since. Periods count back from now, not calendar days, so an alert at 09:00
    means the same thing as one at 23:00."""
    where, params = _scope(organization_id, retention_days)
    where += " AND created_at >= now64(3) - toIntervalHour({hours:UInt32})"
    params["hours"] = 24 * (int(days) + 1)
    if project_id:
        where += " AND project_id = {project_id:UUID}"
        params["project_id"] = str(project_id)
    return get_engine().select(
        "SELECT toString(project_id) AS project_id, "
        "uniqExactIf(intDiv(dateDiff('second', created_at, now64(3)), 86400) AS period, period >= 1 AND period <= {days:UInt32}) AS active_periods, "
        "countIf(period = 0) AS recent, max(created_at) AS last_seen "
        f"FROM requests WHERE {where} GROUP BY project_id "
        "HAVING active_periods >= {days:UInt32} AND recent = 0 ORDER BY project_id",
        {**params, "days": int(days)},
    )

"""The request-log reads behind /savings and /anomalies. Reads take organization_id keyword-only.

Every aggregate weights a row by 1 / sample_rate, so sampled traffic counts as the
traffic it stands for; `rows` columns are the stored rows, for confidence.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from spanlens.requestlog import rollup
from spanlens.requestlog.engine import get_engine
from spanlens.requestlog.queries import ERROR_CONDITION, _scope, format_ts

# The traffic a stored row stands for (sample_rate 0 would be a bad write: count it once).
WEIGHT = "(1 / if(sample_rate > 0, toFloat64(sample_rate), 1.0))"
_COST = "toFloat64(ifNull(cost_usd, toDecimal64(0, 8)))"


def _scoped(organization_id: str, retention_days: int, project_id: str | None) -> tuple[str, dict[str, Any]]:
    where, params = _scope(organization_id, retention_days)
    if project_id:
        where += " AND project_id = {project_id:UUID}"
        params["project_id"] = str(project_id)
    return where, params


# --- savings ----------------------------------------------------------------------

def list_model_token_days(
    *, organization_id: str, days: int = 7, retention_days: int = 365, project_id: str | None = None,
    provider: str | None = None, model: str | None = None, now: datetime | None = None,
    length: timedelta = timedelta(days=1),
) -> list[dict]:
    """Per provider, model and 24-hour period of the last `days` days (day_ago 0 is the last
    24 hours): calls and the token mix
    (weighted sums), spend as logged and the stored row count. Calls the response cache
    answered are left out: no provider was paid for them. From the hourly rollup, and the
    hours a period boundary cuts from the rows (rollup.periods()); `length` is for tests."""
    source, params = rollup.periods(
        organization_id=organization_id, retention_days=retention_days, end=now or datetime.now(timezone.utc),
        length=length, count=int(days), project_id=project_id, provider=provider, cache_hit=False)
    where = "model != ''"
    if model:  # the exact model (the request list's model filter matches a part of the name)
        where += " AND model = {exact_model:String}"
        params["exact_model"] = model
    return get_engine().select(
        "SELECT provider, model, ago AS day_ago, sum(rows) AS rows, sum(calls) AS calls, sum(prompt_w) AS prompt, "
        "sum(completion_w) AS completion, sum(cache_read_w) AS cache_read, sum(cache_write_w) AS cache_write, "
        f"sum(cost_w) AS spend FROM ({source}) WHERE {where} "
        "GROUP BY provider, model, day_ago ORDER BY provider, model, day_ago",
        params,
    )


def list_prompt_cache_usage(
    *, organization_id: str, since: datetime, retention_days: int = 365, project_id: str | None = None,
) -> list[dict]:
    """Per provider and model since `since`: prompt tokens, and those read from and
    written to the provider's prompt cache (weighted sums), for the calls that used it."""
    where, params = _scoped(organization_id, retention_days, project_id)
    return get_engine().select(
        f"SELECT provider, model, sum({WEIGHT}) AS calls, sum(prompt_tokens * {WEIGHT}) AS prompt, "
        f"sum(cache_read_tokens * {WEIGHT}) AS cache_read, sum(cache_write_tokens * {WEIGHT}) AS cache_write "
        f"FROM requests WHERE {where} AND NOT cache_hit AND model != '' "
        "AND (cache_read_tokens > 0 OR cache_write_tokens > 0) "
        "AND created_at >= {since:DateTime64(3, 'UTC')} GROUP BY provider, model",
        {**params, "since": format_ts(since)},
    )


# Requests repeating their first PREFIX_CHARS characters (~1,000 tokens) are grouped; a
# group whose first LONG_PREFIX_CHARS also agree shares at least that much.
PREFIX_CHARS = 4096
LONG_PREFIX_CHARS = 16384


def list_cacheable_prefixes(
    *, organization_id: str, days: int = 7, min_prompt_tokens: int = 1024, min_calls: int = 5,
    limit: int = 20, retention_days: int = 365, project_id: str | None = None,
) -> list[dict]:
    """Groups of long prompts that start alike and barely read the prompt cache: the calls
    that would gain from caching. Only rows with a stored body can be compared."""
    where, params = _scoped(organization_id, retention_days, project_id)
    return get_engine().select(
        "SELECT provider, model, toString(cityHash64(substring(request_body, 1, {prefix:UInt32}))) AS prefix, "
        f"count() AS rows, sum({WEIGHT}) AS calls, sum(prompt_tokens * {WEIGHT}) AS prompt, "
        f"sum(cache_read_tokens * {WEIGHT}) AS cache_read, min(prompt_tokens) AS min_prompt_tokens, "
        "min(length(request_body)) AS min_body_chars, "
        "uniqExact(cityHash64(substring(request_body, 1, {long:UInt32}))) AS long_variants, "
        "any(id) AS example_id, any(project_id) AS project_id, max(created_at) AS last_seen "
        f"FROM requests WHERE {where} AND NOT cache_hit AND request_body != '' "
        "AND prompt_tokens >= {min_tokens:UInt32} AND created_at >= now64(3) - toIntervalDay({days:UInt32}) "
        "GROUP BY provider, model, prefix "
        "HAVING rows >= {min_calls:UInt32} AND cache_read < 0.2 * prompt "
        "ORDER BY prompt DESC LIMIT {limit:UInt32}",
        {**params, "prefix": PREFIX_CHARS, "long": LONG_PREFIX_CHARS, "min_tokens": int(min_prompt_tokens),
         "days": int(days), "min_calls": int(min_calls), "limit": int(limit)},
    )


# --- anomalies --------------------------------------------------------------------

def list_hourly_metrics(
    *, organization_id: str, now: datetime, hours: int = 192, retention_days: int = 365,
) -> list[dict]:
    """For each (provider, model) and each project (kind "model" / "project", key
    "provider/model" / project id), one row per whole hour before `now` (ago = 0 is the
    last 60 minutes): calls, errors and spend (weighted), stored rows, p95 latency of the
    calls that succeeded. Hours without traffic are absent."""
    where, params = _scope(organization_id, retention_days)
    # One scan grouped by model, project and hour; each group then counts once in its
    # model's scope and once in its project's, quantile states merged exactly.
    inner = (
        "SELECT provider, model, project_id, "
        "intDiv(toUnixTimestamp64Milli({now:DateTime64(3, 'UTC')}) - toUnixTimestamp64Milli(created_at), "
        "3600000) AS ago, count() AS n, "
        f"sum({WEIGHT}) AS w, sumIf({WEIGHT}, {ERROR_CONDITION}) AS e, sum({_COST} * {WEIGHT}) AS c, "
        # Unweighted: the rows whose rate differs are errors (kept whatever the rate), and they
        # are left out; the successful calls of a scope share its SDK's rate.
        f"quantileExactStateIf(latency_ms, NOT {ERROR_CONDITION}) AS lat, countIf(NOT {ERROR_CONDITION}) AS ok "
        f"FROM requests WHERE {where} AND model != '' AND NOT cache_hit "
        "AND created_at < {now:DateTime64(3, 'UTC')} "
        "AND created_at >= {now:DateTime64(3, 'UTC')} - toIntervalHour({hours:UInt32}) "
        "GROUP BY provider, model, project_id, ago"
    )
    return get_engine().select(
        "SELECT scope.1 AS kind, scope.2 AS key, ago, sum(n) AS rows, sum(w) AS calls, sum(e) AS errors, "
        "sum(c) AS spend, quantileExactMerge(0.95)(lat) AS p95_latency, sum(ok) AS ok_rows "
        f"FROM ({inner}) "
        "ARRAY JOIN [('model', concat(provider, '/', model)), ('project', toString(project_id))] AS scope "
        "GROUP BY kind, key, ago ORDER BY kind, key, ago",
        {**params, "now": format_ts(now), "hours": int(hours)},
    )


def _scope_clause(kind: str, key: str, params: dict[str, Any]) -> str:
    if kind == "project":
        params["scope_project"] = str(key)
        return "project_id = {scope_project:UUID}"
    provider, _, model = key.partition("/")
    params.update({"scope_provider": provider, "scope_model": model})
    return "provider = {scope_provider:String} AND model = {scope_model:String}"


def get_anomaly_factors(
    *, organization_id: str, kind: str, key: str, window_start: datetime, window_end: datetime,
    baseline_start: datetime, retention_days: int = 365,
) -> dict[str, Any]:
    """What the window did differently from its baseline in one scope: the token mix,
    the top error codes and messages, and the share of the busiest users, keys, models
    and projects in both periods."""
    where, params = _scope(organization_id, retention_days)
    where += " AND " + _scope_clause(kind, key, params) + " AND NOT cache_hit"
    params.update({"w0": format_ts(window_start), "w1": format_ts(window_end), "b0": format_ts(baseline_start)})
    in_window = "created_at >= {w0:DateTime64(3, 'UTC')} AND created_at < {w1:DateTime64(3, 'UTC')}"
    in_base = "created_at >= {b0:DateTime64(3, 'UTC')} AND created_at < {w0:DateTime64(3, 'UTC')}"
    period = f"if({in_window}, 'window', 'baseline')"
    span = f"({in_window} OR {in_base})"
    engine = get_engine()
    errors = engine.select(
        f"SELECT status_code, substring(error_message, 1, 200) AS message, sum({WEIGHT}) AS calls "
        f"FROM requests WHERE {where} AND {in_window} AND {ERROR_CONDITION} "
        "GROUP BY status_code, message ORDER BY calls DESC LIMIT 5",
        params,
    )
    # The token mix of both periods and the four dimensions' shares in one scan of the span
    # (grouping sets), not five: the baseline is a week of the scope's rows (10M rows over a
    # month, a slow host: 441-791 -> 157-485 ms). grouping(x) is 0 on the rows grouped by x,
    # the SQL standard's reading, pinned (ClickHouse has a setting for the other). Aliases
    # are kept apart from the columns they read (`model` is one).
    sets = (("period", period),) + _SHARE_DIMENSIONS
    dimension = "multiIf(" + ", ".join(f"grouping(by_{name}) = 0, '{name}'" for name, _ in sets[:-1]) + f", '{sets[-1][0]}')"
    rows = engine.select(
        f"SELECT {', '.join(f'{column} AS by_{name}' for name, column in sets)}, {dimension} AS dimension, "
        f"sumIf({WEIGHT}, {in_window}) AS window_calls, sumIf({WEIGHT}, {in_base}) AS baseline_calls, "
        f"sum({WEIGHT}) AS calls, sum(prompt_tokens * {WEIGHT}) / sum({WEIGHT}) AS avg_prompt_tokens, "
        f"sum(completion_tokens * {WEIGHT}) / sum({WEIGHT}) AS avg_completion_tokens, "
        f"sumIf({WEIGHT}, {ERROR_CONDITION}) AS errors, avg(latency_ms) AS avg_latency "
        f"FROM requests WHERE {where} AND {span} "
        f"GROUP BY GROUPING SETS ({', '.join(f'(by_{name})' for name, _ in sets)}) "
        # Ties by value: a row's columns outside its set are '', so their concat is its value.
        f"ORDER BY dimension, window_calls DESC, baseline_calls DESC, concat({', '.join(f'by_{n}' for n, _ in sets)}) "
        f"LIMIT {_TOP_SHARES} BY dimension SETTINGS force_grouping_standard_compatibility = 1",
        params,
    )
    tokens: dict[str, dict] = {}
    shares: dict[str, list[dict]] = {name: [] for name, _ in _SHARE_DIMENSIONS}
    for row in rows:
        name = row["dimension"]
        if name == "period":
            tokens[row["by_period"]] = {"period": row["by_period"], **{k: row[k] for k in _PERIOD_FIELDS}}
        else:
            shares[name].append({"value": row[f"by_{name}"], "window_calls": row["window_calls"],
                                 "baseline_calls": row["baseline_calls"]})
    return {"tokens": tokens, "errors": errors, "shares": shares}


_TOP_SHARES = 3  # the busiest values of each dimension (the period set has two rows)
_PERIOD_FIELDS = ("calls", "avg_prompt_tokens", "avg_completion_tokens", "errors", "avg_latency")
_SHARE_DIMENSIONS = (("user", "ifNull(user_id, '')"), ("api_key", "ifNull(toString(api_key_id), '')"),
                     ("model", "concat(provider, '/', model)"), ("project", "toString(project_id)"))

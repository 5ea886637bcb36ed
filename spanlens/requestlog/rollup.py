"""Hourly totals of the request log (`requests_hourly`, clickhouse/0013_hourly_rollup.sql).

ClickHouse keeps them itself: a materialized view sums every inserted block by organization,
project, hour, provider, model, status and three flags (error message, unpriced, cache hit).
The dashboard's aggregates read them instead of every row of the tenant: at 10M rows a
stat strip or a month of daily bars read a few thousand rows, not ten million.

`hours()` is the one way to read them: a subquery of rows in the rollup's shape for a
time range and the request-list filters. Whole hours inside the range come from the rollup;
the ends of a range that are not whole hours, and any filter the rollup has no column for
(user, session, a body search, flags, ...), are summed from `requests` with the same SELECT
the view runs, so every read is exact whichever source answered it. Rollup rows are partial
sums until parts merge: readers always aggregate them again (sum, min, max, quantileMerge).
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from django.conf import settings

from spanlens.requestlog import weighting as W
from spanlens.requestlog.engine import get_engine

TABLE = "requests_hourly"
KEYS = ("organization_id", "project_id", "hour", "provider", "model", "status_code", "errored", "unpriced", "cache_hit")
# The request-list filters the rollup has columns for; any other filter is read from `requests`.
COVERED_FILTERS = frozenset({"project_id", "provider", "model", "status", "cache_hit", "since", "until"})

# The view's SELECT, and the edges': the text in clickhouse/0013_hourly_rollup.sql (a test compares).
HOURLY_SELECT = (
    f"WITH {W.WEIGHT} AS w "
    "SELECT organization_id, project_id, toStartOfHour(created_at) AS hour, provider, model, status_code, "
    "error_message != '' AS errored, cost_source = 'unknown' AS unpriced, cache_hit, "
    "count() AS rows, countIf(sample_rate < 1) AS sampled_rows, sum(w) AS calls, "
    "sum(toUInt64(latency_ms)) AS latency_sum, sum(toFloat64(latency_ms) * w) AS latency_w, "
    "sum(ifNull(cost_usd, toDecimal64(0, 8))) AS cost_sum, "
    f"sum({W.COST} * w) AS cost_w, sum({W.SAVED} * w) AS saved_w, "
    "sum(toUInt64(prompt_tokens)) AS prompt_sum, sum(toUInt64(completion_tokens)) AS completion_sum, "
    "sum(toUInt64(total_tokens)) AS tokens_sum, sum(toFloat64(total_tokens) * w) AS tokens_w, "
    "quantileState(0.95)(latency_ms) AS latency_q, min(created_at) AS first_seen, max(created_at) AS last_seen "
    "FROM requests"
)
HOURLY_GROUP_BY = "GROUP BY " + ", ".join(KEYS)
# The columns a reader of hours() sees, in the view's order (the key columns, then the sums).
COLUMNS = KEYS + (
    "rows", "sampled_rows", "calls", "latency_sum", "latency_w", "cost_sum", "cost_w", "saved_w",
    "prompt_sum", "completion_sum", "tokens_sum", "tokens_w", "latency_q", "first_seen", "last_seen",
)
# Aggregates of hours() rows, each the counterpart of a weighting expression over `requests`
# (KEPT: count(), CALLS: W.est_count(), SPEND: W.est_sum(W.COST), ...).
ERROR = "(status_code >= 400 OR status_code = 0 OR errored)"  # queries.ERROR_CONDITION of a row
KEPT = "sum(rows)"
SAMPLED = "sum(sampled_rows)"
CALLS = "sum(calls)"
SPEND = "sum(cost_w)"
SAVED = "sum(saved_w)"
TOKENS = "sum(tokens_w)"
AVG_LATENCY = "sum(latency_w) / nullIf(sum(calls), 0)"
COST = "toFloat64(sum(cost_sum))"  # unweighted spend, summed as Decimal like the rows' own sum


def calls_if(condition: str) -> str:
    return f"sumIf(calls, {condition})"


def kept_if(condition: str) -> str:
    return f"sumIf(rows, {condition})"

# Off only to compare both sources in tests and benchmarks: every read then sums `requests`.
enabled = True

_MS = timedelta(milliseconds=1)


def covers(filters: dict[str, Any]) -> bool:
    return enabled and all(v is None or v == "" or k in COVERED_FILTERS for k, v in filters.items())


def _floor_hour(t: datetime) -> datetime:
    return t.replace(minute=0, second=0, microsecond=0)


def _ceil_hour(t: datetime) -> datetime:
    floor = _floor_hour(t)
    return floor if floor == t else floor + timedelta(hours=1)


def _ms(t: datetime | None) -> datetime | None:
    """To the millisecond the column holds (format_ts drops the rest)."""
    if t is None:
        return None
    t = t.astimezone(timezone.utc) if t.tzinfo else t.replace(tzinfo=timezone.utc)
    return t.replace(microsecond=t.microsecond // 1000 * 1000)


def hours(*, organization_id: str | None, retention_days: int = 365, **filters: Any) -> tuple[str, dict[str, Any]]:
    """`(subquery, params)`: rows shaped like requests_hourly for the filtered rows of the range
    since..until (both inclusive, either open), every row of it counted exactly once. Use it as
    `FROM ({subquery})` and aggregate. organization_id None reads every tenant (price upkeep)."""
    from spanlens.requestlog.queries import _request_filters, format_ts

    since, until = _ms(filters.pop("since", None)), _ms(filters.pop("until", None))
    if organization_id is None:
        if any(v is not None for v in filters.values()):
            raise ValueError("a read across tenants takes no filters")
        rows_where, hours_where, params = "1", "1", {}
    else:
        rows_where, params = _request_filters(organization_id, retention_days, **filters)
        hours_where, _ = _request_filters(organization_id, retention_days, time_column="hour", **filters)
    first = _ceil_hour(since) if since else None
    end = _floor_hour(until + _MS) if until else None
    if not covers(filters) or (first and end and first >= end):
        return _from_rows(rows_where, params, since, until)
    # Whole hours [first, end) from the rollup; since..first and end..until from the rows.
    params, edges = {**params}, []
    if first is not None:
        hours_where += " AND hour >= {r_first:DateTime('UTC')}"
        edges.append("(created_at >= {since:DateTime64(3, 'UTC')} AND created_at < {r_first:DateTime64(3, 'UTC')})")
        params.update(since=format_ts(since), r_first=format_ts(first)[:19])
    if end is not None:
        hours_where += " AND hour < {r_end:DateTime('UTC')}"
        edges.append("(created_at >= {r_end:DateTime64(3, 'UTC')} AND created_at <= {until:DateTime64(3, 'UTC')})")
        params.update(until=format_ts(until), r_end=format_ts(end)[:19])
    parts = [f"SELECT {', '.join(COLUMNS)} FROM {TABLE} WHERE {hours_where}"]
    if edges:
        parts.append(f"{HOURLY_SELECT} WHERE {rows_where} AND ({' OR '.join(edges)}) {HOURLY_GROUP_BY}")
    return " UNION ALL ".join(f"({part})" for part in parts), params


def _from_rows(base: str, params: dict, since: datetime | None, until: datetime | None) -> tuple[str, dict]:
    from spanlens.requestlog.queries import format_ts

    params = {**params}
    if since is not None:
        base += " AND created_at >= {since:DateTime64(3, 'UTC')}"
        params["since"] = format_ts(since)
    if until is not None:
        base += " AND created_at <= {until:DateTime64(3, 'UTC')}"
        params["until"] = format_ts(until)
    return f"{HOURLY_SELECT} WHERE {base} {HOURLY_GROUP_BY}", params


def rebuild() -> None:
    """Sum the rollup again from every stored row (after a restore replaced `requests`, or
    when the migration first creates it). Run it while nothing writes: a row inserted
    meanwhile could be counted twice, as ClickHouse's own POPULATE would."""
    engine = get_engine()
    cluster = settings.CLICKHOUSE_CLUSTER
    engine.command(f"TRUNCATE TABLE {TABLE}_local ON CLUSTER '{cluster}'" if cluster else f"TRUNCATE TABLE {TABLE}")
    engine.command(f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) {HOURLY_SELECT} {HOURLY_GROUP_BY}")

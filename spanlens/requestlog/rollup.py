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

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from django.conf import settings

from spanlens.requestlog import weighting as W
from spanlens.requestlog.engine import get_engine

@dataclass(frozen=True)
class Rollup:
    """One summary table and the materialized view that fills it from `requests`."""
    table: str
    keys: tuple[str, ...]
    # The view's SELECT, and the edges': the text of its migration (a test compares).
    select: str
    sums: tuple[str, ...]
    # The request-list filters it has columns for; any other filter is read from `requests`.
    covered: frozenset[str]
    # The rows it sums at all (its view's WHERE).
    where: str = "1"

    @property
    def group_by(self) -> str:
        return "GROUP BY " + ", ".join(self.keys)

    @property
    def view_select(self) -> str:
        """The SELECT of its materialized view (and of rebuild())."""
        where = "" if self.where == "1" else f" WHERE {self.where}"
        return f"{self.select}{where} {self.group_by}"

    @property
    def columns(self) -> tuple[str, ...]:
        return self.keys + self.sums


_SAMPLEABLE = "origin = '' AND response_body != ''"

# clickhouse/0013_hourly_rollup.sql: by every key the dashboard's totals split or filter on;
# 0016_hourly_token_mix.sql added the weighted token mix (its view is that migration's).
HOURLY = Rollup(
    table="requests_hourly",
    keys=("organization_id", "project_id", "hour", "provider", "model", "status_code", "errored", "unpriced",
          "cache_hit"),
    select=(
        f"WITH {W.WEIGHT} AS w "
        "SELECT organization_id, project_id, toStartOfHour(created_at) AS hour, provider, model, status_code, "
        "error_message != '' AS errored, cost_source = 'unknown' AS unpriced, cache_hit, "
        "count() AS rows, countIf(sample_rate < 1) AS sampled_rows, sum(w) AS calls, "
        "sum(toUInt64(latency_ms)) AS latency_sum, sum(toFloat64(latency_ms) * w) AS latency_w, "
        "sum(ifNull(cost_usd, toDecimal64(0, 8))) AS cost_sum, "
        f"sum({W.COST} * w) AS cost_w, sum({W.SAVED} * w) AS saved_w, "
        "sum(toUInt64(prompt_tokens)) AS prompt_sum, sum(toUInt64(completion_tokens)) AS completion_sum, "
        "sum(toUInt64(total_tokens)) AS tokens_sum, sum(toFloat64(total_tokens) * w) AS tokens_w, "
        "quantileState(0.95)(latency_ms) AS latency_q, min(created_at) AS first_seen, max(created_at) AS last_seen, "
        # Calls a production eval can sample (queries._EVAL_SAMPLE_WHERE, less the status: a key).
        f"countIf({_SAMPLEABLE}) AS eval_rows, sumIf(toUInt64(prompt_tokens), {_SAMPLEABLE}) AS eval_prompt_sum, "
        f"sumIf(toUInt64(completion_tokens), {_SAMPLEABLE}) AS eval_completion_sum, "
        "sum(toFloat64(prompt_tokens) * w) AS prompt_w, sum(toFloat64(completion_tokens) * w) AS completion_w, "
        "sum(toFloat64(cache_read_tokens) * w) AS cache_read_w, sum(toFloat64(cache_write_tokens) * w) AS cache_write_w "
        "FROM requests"
    ),
    sums=("rows", "sampled_rows", "calls", "latency_sum", "latency_w", "cost_sum", "cost_w", "saved_w",
          "prompt_sum", "completion_sum", "tokens_sum", "tokens_w", "latency_q", "first_seen", "last_seen",
          "eval_rows", "eval_prompt_sum", "eval_completion_sum", "prompt_w", "completion_w", "cache_read_w",
          "cache_write_w"),
    covered=frozenset({"project_id", "provider", "model", "status", "cache_hit", "since", "until"}),
)
# clickhouse/0014_users_rollup.sql: by end user (the caller's x-spanlens-user; '' for none),
# for /users and the home page's charts and top spenders by user.
USERS = Rollup(
    table="requests_users_hourly",
    keys=("organization_id", "project_id", "hour", "end_user"),
    select=(
        f"WITH {W.WEIGHT} AS w "
        "SELECT organization_id, project_id, toStartOfHour(created_at) AS hour, ifNull(user_id, '') AS end_user, "
        "count() AS rows, countIf(sample_rate < 1) AS sampled_rows, sum(w) AS calls, "
        "sumIf(w, status_code >= 400 OR status_code = 0 OR error_message != '') AS errors, "
        "sumIf(w, cost_source = 'unknown') AS unpriced, "
        f"sum({W.COST} * w) AS cost_w, sum(toFloat64(total_tokens) * w) AS tokens_w, "
        "min(created_at) AS first_seen, max(created_at) AS last_seen "
        "FROM requests"
    ),
    sums=("rows", "sampled_rows", "calls", "errors", "unpriced", "cost_w", "tokens_w", "first_seen", "last_seen"),
    covered=frozenset({"project_id", "since", "until"}),
)
# clickhouse/0015_sessions_rollup.sql: the calls that name a session (x-spanlens-session), by
# session, end user and model, for /sessions. A session's hours, users and models are few, so
# it keeps a few rows per session instead of one per call.
SESSIONS = Rollup(
    table="requests_sessions_hourly",
    keys=("organization_id", "project_id", "hour", "session", "end_user", "model"),
    select=(
        f"WITH {W.WEIGHT} AS w "
        "SELECT organization_id, project_id, toStartOfHour(created_at) AS hour, assumeNotNull(session_id) AS session, "
        "ifNull(user_id, '') AS end_user, model, "
        "count() AS rows, countIf(sample_rate < 1) AS sampled_rows, sum(w) AS calls, "
        "sumIf(w, status_code >= 400 OR status_code = 0 OR error_message != '') AS errors, "
        f"sum({W.COST} * w) AS cost_w, sum(toFloat64(total_tokens) * w) AS tokens_w, "
        "min(created_at) AS first_call, max(created_at) AS last_call "
        "FROM requests"
    ),
    sums=("rows", "sampled_rows", "calls", "errors", "cost_w", "tokens_w", "first_call", "last_call"),
    covered=frozenset({"project_id", "model", "since", "until"}),
    where="session_id IS NOT NULL AND session_id != ''",
)
ROLLUPS = (HOURLY, USERS, SESSIONS)

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


# The same measures by name, over hours() rows and over `requests` rows, for a read that
# takes either source (a rollup when it covers the read, the rows otherwise).
MEASURES = {"time": "hour", "kept": KEPT, "calls": CALLS, "spend": SPEND, "tokens": TOKENS, "sampled": SAMPLED}
ROW_MEASURES = {"time": "created_at", "kept": "count()", "calls": W.est_count(), "spend": W.est_sum(W.COST),
                "tokens": W.est_sum("total_tokens"), "sampled": W.SAMPLED_ROWS}


def calls_if(condition: str) -> str:
    return f"sumIf(calls, {condition})"


def kept_if(condition: str) -> str:
    return f"sumIf(rows, {condition})"

# Off only to compare both sources in tests and benchmarks: every read then sums `requests`.
enabled = True

_MS = timedelta(milliseconds=1)


def covers(filters: dict[str, Any], of: Rollup = HOURLY) -> bool:
    return enabled and all(v is None or v == "" or k in of.covered for k, v in filters.items())


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


def hours(*, organization_id: str | None, retention_days: int = 365, of: Rollup = HOURLY,
          **filters: Any) -> tuple[str, dict[str, Any]]:
    """`(subquery, params)`: rows shaped like the rollup `of` for the filtered rows of the range
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
    if of.where != "1":
        rows_where = f"{rows_where} AND {of.where}"
    first = _ceil_hour(since) if since else None
    end = _floor_hour(until + _MS) if until else None
    if not covers(filters, of) or (first and end and first >= end):
        return _from_rows(of, rows_where, params, since, until)
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
    parts = [f"SELECT {', '.join(of.columns)} FROM {of.table} WHERE {hours_where}"]
    if edges:
        parts.append(f"{of.select} WHERE {rows_where} AND ({' OR '.join(edges)}) {of.group_by}")
    return " UNION ALL ".join(f"({part})" for part in parts), params


def _from_rows(of: Rollup, base: str, params: dict, since: datetime | None, until: datetime | None) -> tuple[str, dict]:
    from spanlens.requestlog.queries import format_ts

    params = {**params}
    if since is not None:
        base += " AND created_at >= {since:DateTime64(3, 'UTC')}"
        params["since"] = format_ts(since)
    if until is not None:
        base += " AND created_at <= {until:DateTime64(3, 'UTC')}"
        params["until"] = format_ts(until)
    return f"{of.select} WHERE {base} {of.group_by}", params


def periods(*, organization_id: str, end: datetime, length: timedelta, count: int, retention_days: int = 365,
            of: Rollup = HOURLY, **filters: Any) -> tuple[str, dict[str, Any]]:
    """`(subquery, params)`: rows shaped like the rollup `of`, each with `ago`, for `count`
    periods of `length` ending at `end`: ago = intDiv(end - created_at, length), so period 0
    holds `end`'s millisecond and not the one `length` before it. Such periods rarely start on
    the hour (24 hours before now): an hour that lies in one period is read from the rollup,
    the hours a period boundary cuts, and the ends, from the rows, all in one scan of each."""
    from spanlens.requestlog.queries import _request_filters, format_ts

    end = _ms(end)
    start = end - count * length  # excluded
    end_ms, len_ms = round(end.timestamp() * 1000), length // _MS
    params: dict[str, Any] = {"p_end_ms": end_ms, "p_len_ms": len_ms, "p_start": format_ts(start),
                              "p_end": format_ts(end)}
    rows_where, filter_params = _request_filters(organization_id, retention_days, **filters)
    params.update(filter_params)
    if of.where != "1":
        rows_where = f"{rows_where} AND {of.where}"
    rows_where += " AND created_at > {p_start:DateTime64(3, 'UTC')} AND created_at <= {p_end:DateTime64(3, 'UTC')}"
    row_ago = "intDiv({p_end_ms:Int64} - toUnixTimestamp64Milli(created_at), {p_len_ms:Int64}) AS ago, "
    head, select, tail = of.select.partition("SELECT ")
    from_rows = f"{head}{select}{row_ago}{tail}"
    group_by = f"{of.group_by}, ago"
    first, stop = _ceil_hour(start + _MS), _floor_hour(end + _MS)  # whole hours [first, stop)
    if not covers(filters, of) or first >= stop:
        return f"{from_rows} WHERE {rows_where} {group_by}", params
    # Hours a boundary cuts: the one holding each boundary, unless it is that hour's last ms.
    cut = sorted({_floor_hour(b) for b in (end - k * length for k in range(1, count))
                  if _floor_hour(b) == _floor_hour(b + _MS) and first <= _floor_hour(b) < stop})
    hours_where, _ = _request_filters(organization_id, retention_days, time_column="hour", **filters)
    hours_where += " AND hour >= {p_first:DateTime('UTC')} AND hour < {p_stop:DateTime('UTC')}"
    params.update(p_first=format_ts(first)[:19], p_stop=format_ts(stop)[:19])
    from_edges = ["created_at < {p_first:DateTime64(3, 'UTC')}", "created_at >= {p_stop:DateTime64(3, 'UTC')}"]
    for i, hour in enumerate(cut):
        hours_where += f" AND hour != {{p_cut{i}:DateTime('UTC')}}"
        from_edges.append(f"(created_at >= {{p_cut{i}:DateTime64(3, 'UTC')}} "
                          f"AND created_at < {{p_cut{i}_end:DateTime64(3, 'UTC')}})")
        params.update({f"p_cut{i}": format_ts(hour)[:19], f"p_cut{i}_end": format_ts(hour + timedelta(hours=1))[:19]})
    hour_ago = "intDiv({p_end_ms:Int64} - toInt64(toUnixTimestamp(hour)) * 1000, {p_len_ms:Int64}) AS ago"
    return (f"(SELECT {hour_ago}, {', '.join(of.columns)} FROM {of.table} WHERE {hours_where}) UNION ALL "
            f"({from_rows} WHERE {rows_where} AND ({' OR '.join(from_edges)}) {group_by})"), params


def rebuild(*which: Rollup) -> None:
    """Sum the rollups (all by default) again from every stored row: when a migration first
    creates one, and after a restore replaced `requests`. Run it while nothing writes: a row
    inserted meanwhile could be counted twice, as ClickHouse's own POPULATE would."""
    engine = get_engine()
    cluster = settings.CLICKHOUSE_CLUSTER
    for of in which or ROLLUPS:
        engine.command(f"TRUNCATE TABLE {of.table}_local ON CLUSTER '{cluster}'" if cluster
                       else f"TRUNCATE TABLE {of.table}")
        engine.command(f"INSERT INTO {of.table} ({', '.join(of.columns)}) {of.view_select}")

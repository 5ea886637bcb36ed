"""Every ClickHouse statement Spanlens runs. Reads take organization_id keyword-only.

The tenant and retention filter is added by _scope() in one place; no other
module builds SQL for the request log.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
import time
from decimal import Decimal
from typing import Any, Iterable

from spanlens.requestlog import ids, rollup
from spanlens.requestlog import weighting as W
from spanlens.requestlog.engine import get_engine

REQUEST_COLUMNS = (
    "id", "organization_id", "project_id", "api_key_id", "provider_key_id", "provider", "model",
    "endpoint", "method", "stream", "prompt_tokens", "completion_tokens", "total_tokens",
    "cache_read_tokens", "cache_write_tokens", "cost_usd", "cost_source", "latency_ms", "proxy_overhead_ms",
    "status_code", "request_body", "response_body", "trace_id", "span_id", "prompt_version_id",
    "user_id", "session_id", "log_body", "flags", "response_flags", "truncated", "error_message",
    "created_at", "cache_hit", "cost_saved_usd", "sample_rate", "usage_clamped",
)
# Everything but the bodies: what list views need.
SUMMARY_COLUMNS = tuple(c for c in REQUEST_COLUMNS if c not in ("request_body", "response_body"))


def format_ts(value: datetime) -> str:
    """DateTime64(3, 'UTC') text form, which both engines parse the same way."""
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value.strftime("%Y-%m-%d %H:%M:%S.") + f"{value.microsecond // 1000:03d}"


_second_text: tuple[int, str] = (-1, "")


def format_epoch(seconds: float) -> str:
    """format_ts of a Unix time, for every logged row: the date and time part is made
    once per second (rows of a busy second share it) instead of by strftime per row."""
    global _second_text
    whole = int(seconds // 1)
    micro = round((seconds - whole) * 1_000_000)  # as datetime.fromtimestamp rounds
    if micro >= 1_000_000:
        whole, micro = whole + 1, micro - 1_000_000
    cached = _second_text  # one read: another thread may replace it meanwhile
    if cached[0] != whole:
        cached = _second_text = (whole, time.strftime("%Y-%m-%d %H:%M:%S.", time.gmtime(whole)))
    return f"{cached[1]}{micro // 1000:03d}"


def _scope(organization_id: str, retention_days: int, time_column: str = "created_at") -> tuple[str, dict[str, Any]]:
    """The tenant boundary: organization and plan retention, on every read.

    The retention cutoff is a constant, floored to the hour, not now64(): ClickHouse's
    query condition cache remembers which granules a filter ruled out only for a
    deterministic filter, so a repeated body search (paging, the live list's refresh)
    skips every granule without a match: 0.5-1.2 s -> 26-40 ms at 1M rows on a loaded
    machine. Rows stay visible up to an hour past their plan's retention; the table's
    TTL deletes them regardless. The hour floor also makes the cutoff a whole hour of
    the hourly rollup, whose `hour` column is then the time_column.
    """
    cutoff = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0) - timedelta(days=int(retention_days))
    return (
        f"organization_id = {{org:UUID}} AND {time_column} >= {{retention_cutoff:DateTime64(3, 'UTC')}}",
        {"org": str(organization_id), "retention_cutoff": format_ts(cutoff)},
    )


# --- writes -------------------------------------------------------------------

def insert_requests(rows: Iterable[dict[str, Any]]) -> None:
    """Rows are dicts keyed by REQUEST_COLUMNS (missing columns take their defaults)."""
    rows = list(rows)
    if rows:
        get_engine().insert_rows("requests", rows)


def insert_request_files(paths: list[str], columns: list[str], *, exclude_ids: list[str] = ()) -> None:
    """Batches the log builder wrote (Arrow files with these columns) in one insert, minus
    ids already stored."""
    get_engine().insert_files("requests", paths, columns, exclude_ids=list(exclude_ids) or None)


# --- reads --------------------------------------------------------------------

def get_request(*, organization_id: str, request_id: str, retention_days: int = 365) -> dict | None:
    where, params = _scope(organization_id, retention_days)
    sql = f"SELECT {', '.join(REQUEST_COLUMNS)} FROM requests WHERE {where} AND id = {{id:UUID}}"
    params["id"] = str(request_id)
    started = ids.time_of(request_id)
    if started is not None:
        # A v7 id names its call's start to the millisecond: the sort key finds the row
        # in a few granules instead of the id's bloom filter reading the tenant's marks.
        # (A client's own v7 id need not match its row's time: then look it up as before.)
        rows = get_engine().select(
            sql + " AND created_at BETWEEN {at_from:DateTime64(3, 'UTC')} AND {at_to:DateTime64(3, 'UTC')} LIMIT 1",
            {**params, "at_from": format_ts(started - timedelta(seconds=1)),
             "at_to": format_ts(started + timedelta(seconds=1))},
        )
        if rows:
            return rows[0]
    rows = get_engine().select(sql + " LIMIT 1", params)
    return rows[0] if rows else None


def list_recent_requests(
    *, organization_id: str, limit: int = 20, retention_days: int = 365
) -> list[dict]:
    where, params = _scope(organization_id, retention_days)
    return _newest_first(
        lambda recent, extra: get_engine().select(
            f"SELECT {', '.join(SUMMARY_COLUMNS)} FROM requests WHERE {where}{recent} "
            "ORDER BY created_at DESC, id DESC LIMIT {limit:UInt32}",
            {**params, **extra, "limit": int(limit)},
        ),
        limit,
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


# --- dashboard reads ------------------------------------------------------------

# Sort keys the dashboard and API accept, mapped to columns. Ties break on the
# table key (created_at, id) so pages never overlap or skip rows.
SORT_COLUMNS = {
    "created_at": "created_at",
    "latency_ms": "latency_ms",
    "cost_usd": "ifNull(cost_usd, toDecimal64(0, 8))",
    "total_tokens": "total_tokens",
}
USER_SORT_COLUMNS = {"cost_usd": "cost_usd", "requests": "requests", "last_seen": "last_seen", "user_id": "user_id"}
# A row counts as an error when the provider refused it, it never got an answer, or the
# row carries an error despite a 2xx: an error the provider sent inside a 200 stream, a
# stream cut at the deadline or by the client.
ERROR_CONDITION = "(status_code >= 400 OR status_code = 0 OR error_message != '')"
UNPRICED = "cost_source = 'unknown'"
STATUS_FILTERS = {
    "ok": "status_code >= 200 AND status_code < 300",
    "4xx": "status_code >= 400 AND status_code < 500",
    "5xx": "status_code >= 500 AND status_code < 600",
}


# The finding types of a row, request and response together (flags columns hold JSON arrays).
FLAG_TYPES = ("arrayMap(x -> JSONExtractString(x, 'type'), "
              "arrayConcat(JSONExtractArrayRaw(flags), JSONExtractArrayRaw(response_flags)))")
# flag= groups: secrets and credentials count as PII, as they are personal data to protect.
FLAG_GROUPS = {
    "any": f"notEmpty({FLAG_TYPES})",
    "pii": f"arrayExists(t -> startsWith(t, 'pii.') OR startsWith(t, 'secret.'), {FLAG_TYPES})",
    "injection": f"arrayExists(t -> startsWith(t, 'injection.'), {FLAG_TYPES})",
}


def _flag_clause(flag: str, params: dict[str, Any]) -> str:
    if flag in FLAG_GROUPS:
        return FLAG_GROUPS[flag]
    params["flag"] = flag
    return f"has({FLAG_TYPES}, {{flag:String}})"


def _request_filters(
    organization_id: str,
    retention_days: int,
    *,
    flag: str | None = None,
    project_id: str | None = None,
    provider: str | None = None,
    model: str | None = None,
    provider_key_id: str | None = None,
    prompt_version_id: str | None = None,
    user_id: str | None = None,
    session_id: str | None = None,
    status: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    search: str | None = None,
    cache_hit: bool | None = None,
    request_ids: list[str] | None = None,
    time_column: str = "created_at",
) -> tuple[str, dict[str, Any]]:
    """The WHERE clause for the request list: tenant scope first, then each set filter.
    time_column "hour" makes the clause for the hourly rollup (rollup.hours())."""
    where, params = _scope(organization_id, retention_days, time_column)
    clauses = [where]
    if request_ids is not None:
        # The live tail asks which of the rows just written match a page's filters.
        clauses.append("id IN {request_ids:Array(UUID)}")
        params["request_ids"] = uuid_array(request_ids)
    if project_id:
        clauses.append("project_id = {project_id:UUID}")
        params["project_id"] = str(project_id)
    if provider:
        clauses.append("provider = {provider:String}")
        params["provider"] = provider
    if model:
        clauses.append("positionCaseInsensitiveUTF8(model, {model:String}) > 0")
        params["model"] = model
    if provider_key_id:
        clauses.append("provider_key_id = {provider_key_id:UUID}")
        params["provider_key_id"] = str(provider_key_id)
    if prompt_version_id:
        clauses.append("prompt_version_id = {prompt_version_id:UUID}")
        params["prompt_version_id"] = str(prompt_version_id)
    if user_id:
        clauses.append("user_id = {user_id:String}")
        params["user_id"] = user_id
    if session_id:
        clauses.append("session_id = {session_id:String}")
        params["session_id"] = session_id
    if status and status != "all":
        clauses.append(STATUS_FILTERS[status])
    if flag:
        clauses.append(_flag_clause(flag, params))
    if cache_hit is not None:
        clauses.append("cache_hit = {cache_hit:Bool}")
        params["cache_hit"] = bool(cache_hit)
    if since is not None:
        clauses.append("created_at >= {since:DateTime64(3, 'UTC')}")
        params["since"] = format_ts(since)
    if until is not None:
        clauses.append("created_at <= {until:DateTime64(3, 'UTC')}")
        params["until"] = format_ts(until)
    if search:
        # Bodies are capped at 64KB, so a scan of the already-filtered rows stays cheap.
        clauses.append(
            "(positionCaseInsensitiveUTF8(request_body, {search:String}) > 0"
            " OR positionCaseInsensitiveUTF8(response_body, {search:String}) > 0"
            " OR positionCaseInsensitiveUTF8(error_message, {search:String}) > 0)"
        )
        params["search"] = search
    return " AND ".join(clauses), params


def _order_by(sort_by: str, sort_dir: str) -> str:
    direction = "ASC" if sort_dir == "asc" else "DESC"
    column = SORT_COLUMNS[sort_by]
    if sort_by == "created_at":
        return f"created_at {direction}, id {direction}"
    return f"{column} {direction}, created_at DESC, id DESC"


def list_requests(
    *,
    organization_id: str,
    retention_days: int = 365,
    sort_by: str = "created_at",
    sort_dir: str = "desc",
    page: int = 1,
    limit: int = 50,
    **filters: Any,
) -> dict[str, Any]:
    """One page of request summaries (no bodies) and the total matching count.

    The count goes first: a list of few matches is read whole instead of in widening
    windows. That is what makes a body search one scan: the count reads every body once, and ClickHouse's query condition cache then lets the
    page's read, with the same filter, skip every granule without a match (10M rows, a new
    term: 2.1-3.2 s -> 1.6-1.9 s; a term in 111 rows, repeated: 63 ms windowed, 31 ms whole)."""
    offset = (max(page, 1) - 1) * limit
    total = count_matching_requests(organization_id=organization_id, retention_days=retention_days, **filters)
    # The page is read even when the count says it is empty: that read is what notices a
    # request log that is gone (the count may come from the rollup alone).
    rows = list_request_window(
        organization_id=organization_id, retention_days=retention_days, sort_by=sort_by, sort_dir=sort_dir,
        offset=offset, limit=limit, windowed=total > _WHOLE_LIST_PAGES * (offset + limit), **filters,
    )
    return {"rows": rows, "total": total}


# A list of at most this many pages' worth of matches (up to the page asked for) is read
# whole: its matches sit in at most that many granules, fewer than the last day's when
# they are spread over a month; a longer list likely fills its page from the last day.
_WHOLE_LIST_PAGES = 20


def count_matching_requests(*, organization_id: str, retention_days: int = 365, **filters: Any) -> int:
    """How many rows the request-list filters select (the pager's total): from the hourly
    rollup when it has every filter's column (a model filter at 10M rows: ~150 -> ~10 ms)."""
    if rollup.covers(filters):
        source, params = rollup.hours(organization_id=organization_id, retention_days=retention_days, **filters)
        total = get_engine().select(f"SELECT {rollup.KEPT} AS n FROM ({source})", params)
    else:
        where, params = _request_filters(organization_id, retention_days, **filters)
        total = get_engine().select(f"SELECT count() AS n FROM requests WHERE {where}", params)
    return int(total[0]["n"] or 0) if total else 0


def list_request_window(
    *,
    organization_id: str,
    retention_days: int = 365,
    sort_by: str = "created_at",
    sort_dir: str = "desc",
    offset: int = 0,
    limit: int = 50,
    windowed: bool = True,
    **filters: Any,
) -> list[dict]:
    """Summaries at an absolute offset of the filtered, sorted list (drawer Prev/Next).
    windowed=False reads the whole list at once (the caller knows the list is short)."""
    if offset < 0:
        return []
    where, params = _request_filters(organization_id, retention_days, **filters)

    def page(recent: str, extra: dict) -> list[dict]:
        return get_engine().select(
            f"SELECT {', '.join(SUMMARY_COLUMNS)} FROM requests WHERE {where}{recent} "
            f"ORDER BY {_order_by(sort_by, sort_dir)} LIMIT {{limit:UInt32}} OFFSET {{offset:UInt64}}",
            {**params, **extra, "limit": int(limit), "offset": int(offset)},
        )

    if sort_by == "created_at" and sort_dir != "asc" and windowed:
        return _newest_first(page, limit)
    return page("", {})


# Newest-first lists of a whole organization cannot be read in time order: the sort key
# has the project before created_at, so ClickHouse reads every row's created_at of the
# tenant to find the top of the list (150-200 ms at 10M rows; one project's list 20 ms).
# Most pages are of the last day: look there first, widen when the page is not full there.
# A page that is full within a window is the page of the whole list: every row it skips
# (OFFSET) or shows is newer than any row outside the window.
_RECENT_WINDOWS = (timedelta(days=1), timedelta(days=8))


def _newest_first(run, limit: int) -> list[dict]:
    """run(extra SQL, extra params) -> rows, called with ever wider created_at windows."""
    # Floored to the hour so the filter is the same for an hour (the condition cache).
    top = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    for window in _RECENT_WINDOWS:
        rows = run(" AND created_at >= {recent_from:DateTime64(3, 'UTC')}", {"recent_from": format_ts(top - window)})
        if len(rows) >= limit:
            return rows
    return run("", {})


def iter_requests_for_export(
    *,
    organization_id: str,
    retention_days: int = 365,
    sort_by: str = "created_at",
    sort_dir: str = "desc",
    batch_size: int = 1000,
    with_bodies: bool = True,
    **filters: Any,
):
    """Every filtered row, fetched in batches so an export never holds the whole log."""
    columns = REQUEST_COLUMNS if with_bodies else SUMMARY_COLUMNS
    where, params = _request_filters(organization_id, retention_days, **filters)
    offset = 0
    while True:
        rows = get_engine().select(
            f"SELECT {', '.join(columns)} FROM requests WHERE {where} "
            f"ORDER BY {_order_by(sort_by, sort_dir)} LIMIT {{limit:UInt32}} OFFSET {{offset:UInt64}}",
            {**params, "limit": int(batch_size), "offset": int(offset)},
        )
        yield from rows
        if len(rows) < batch_size:
            return
        offset += batch_size


def get_request_stats(*, organization_id: str, retention_days: int = 365, **filters: Any) -> dict[str, Any]:
    """The stat strip: last 24 h totals plus one point per hour for the spark lines, of the
    rows the request-list filters (the same keywords as list_requests) select.

    Every figure weights a row by 1 / sample_rate (see weighting), so sampled traffic
    is estimated; `sampled_rows` > 0 says the figures are estimates."""
    filters["since"] = _later(filters.get("since"), datetime.now(timezone.utc) - timedelta(hours=24))
    source, params = rollup.hours(organization_id=organization_id, retention_days=retention_days, **filters)
    R = rollup
    totals = get_engine().select(
        f"SELECT {R.KEPT} AS kept_rows, {R.CALLS} AS requests, {R.AVG_LATENCY} AS avg_latency_ms, "
        f"{R.SPEND} AS spend_usd, {R.calls_if(R.ERROR)} AS errors, {R.calls_if('unpriced')} AS unpriced, "
        f"{R.calls_if('cache_hit')} AS cache_hits, {R.SAVED} AS saved_usd, {R.SAMPLED} AS sampled_rows "
        f"FROM ({source})",
        params,
    )[0]
    hours = get_engine().select(
        f"SELECT hour, {R.CALLS} AS requests, {R.AVG_LATENCY} AS avg_latency_ms, {R.SPEND} AS spend_usd, "
        f"{R.calls_if(R.ERROR)} AS errors FROM ({source}) GROUP BY hour ORDER BY hour",
        params,
    )
    rows = int(totals["kept_rows"])
    estimated = float(totals["requests"] or 0) if rows else 0.0
    errors = float(totals["errors"] or 0) if rows else 0.0
    return {
        "requests": round(estimated),
        "rows": rows,
        "sampled_rows": int(totals["sampled_rows"] or 0),
        "kept_share": W.kept_share(rows, estimated),
        "avg_latency_ms": float(totals["avg_latency_ms"] or 0) if rows else 0.0,
        "spend_usd": float(totals["spend_usd"] or 0) if rows else 0.0,
        # Calls whose model has no price: spend leaves them out, so the strip says how many.
        "unpriced": round(float(totals["unpriced"] or 0)) if rows else 0,
        "errors": round(errors),
        "error_rate": (errors / estimated) if estimated else 0.0,
        # What the response cache saved: calls answered without the provider, and their cost.
        "cache_hits": round(float(totals["cache_hits"] or 0)) if rows else 0,
        "saved_usd": float(totals["saved_usd"] or 0) if rows else 0.0,
        "hourly": hours,
    }


def get_period_stats(
    *, organization_id: str, since: datetime, until: datetime, retention_days: int = 365,
    project_id: str | None = None,
) -> dict[str, Any]:
    """Totals of one period, with its spend by model and by UTC day (what changed, and when)."""
    source, params = rollup.hours(organization_id=organization_id, retention_days=retention_days,
                                  project_id=project_id, since=since, until=until)
    R = rollup
    # One read of the period: summed by model and day (the p95's states merged once), then the
    # totals, the models and the days of those few rows (GROUPING SETS; grouping() is 1 for a
    # column summed over). Three reads of the source cost three times its edges (~25 ms each).
    by = get_engine().select(
        "SELECT grouping(provider) AS all_models, grouping(day) AS all_days, provider, model, day, "
        "sum(d_rows) AS requests, sum(d_errors) AS errors, sum(d_prompt) AS prompt_tokens, "
        "sum(d_completion) AS completion_tokens, sum(d_tokens) AS total_tokens, "
        "toFloat64(sum(d_cost)) AS cost_usd, sum(d_latency) / nullIf(sum(d_rows), 0) AS avg_latency_ms, "
        "quantileMerge(0.95)(d_latency_q) AS p95_latency_ms, sum(d_unpriced) AS unpriced FROM ("
        f"SELECT provider, model, toString(toDate(hour)) AS day, {R.KEPT} AS d_rows, "
        f"{R.kept_if(R.ERROR)} AS d_errors, sum(prompt_sum) AS d_prompt, sum(completion_sum) AS d_completion, "
        "sum(tokens_sum) AS d_tokens, sum(cost_sum) AS d_cost, sum(latency_sum) AS d_latency, "
        f"quantileMergeState(0.95)(latency_q) AS d_latency_q, {R.kept_if('unpriced')} AS d_unpriced "
        f"FROM ({source}) GROUP BY provider, model, day) "
        "GROUP BY GROUPING SETS ((), (provider, model), (day))",
        params,
    )
    totals = next((r for r in by if r["all_models"] and r["all_days"]),
                  {"requests": 0, "errors": 0, "prompt_tokens": 0, "completion_tokens": 0, "cost_usd": 0,
                   "avg_latency_ms": None, "p95_latency_ms": None, "unpriced": 0})
    by_model = sorted(({"provider": r["provider"], "model": r["model"], "requests": r["requests"],
                        "total_tokens": r["total_tokens"], "cost_usd": r["cost_usd"], "errors": r["errors"]}
                       for r in by if r["all_days"] and not r["all_models"]),
                      key=lambda r: (-float(r["cost_usd"] or 0), -int(r["requests"])))[:20]
    by_day = sorted(({"day": r["day"], "requests": r["requests"], "cost_usd": r["cost_usd"], "errors": r["errors"]}
                     for r in by if r["all_models"] and not r["all_days"]), key=lambda r: r["day"])
    requests = int(totals["requests"])
    return {
        "requests": requests,
        "errors": int(totals["errors"]),
        "error_rate": int(totals["errors"]) / requests if requests else 0.0,
        "prompt_tokens": int(totals["prompt_tokens"] or 0),
        "completion_tokens": int(totals["completion_tokens"] or 0),
        "cost_usd": float(totals["cost_usd"] or 0),
        "unpriced_requests": int(totals["unpriced"] or 0),
        "avg_latency_ms": float(totals["avg_latency_ms"] or 0) if requests else 0.0,
        "p95_latency_ms": float(totals["p95_latency_ms"] or 0) if requests else 0.0,
        "by_model": by_model,
        "by_day": by_day,
    }


def list_daily_traffic(*, organization_id: str, retention_days: int = 365, days: int = 30, **filters: Any) -> list[dict]:
    """Estimated requests and errors per UTC day for the last `days` days (days without traffic
    are absent), of the rows the request-list filters select; `sampled_rows` > 0 marks a day
    whose figures are estimates."""
    today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    filters["since"] = _later(filters.get("since"), today - timedelta(days=int(days) - 1))
    source, params = rollup.hours(organization_id=organization_id, retention_days=retention_days, **filters)
    return get_engine().select(
        f"SELECT toString(toDate(hour)) AS day, toUInt64(round({rollup.CALLS})) AS requests, "
        f"toUInt64(round({rollup.calls_if(rollup.ERROR)})) AS errors, {rollup.SAMPLED} AS sampled_rows "
        f"FROM ({source}) GROUP BY day ORDER BY day",
        params,
    )


def _later(a: datetime | None, b: datetime) -> datetime:
    return b if a is None else max(a, b)


def list_users(
    *,
    organization_id: str,
    retention_days: int = 365,
    project_id: str | None = None,
    sort_by: str = "cost_usd",
    sort_dir: str = "desc",
    page: int = 1,
    limit: int = 50,
) -> dict[str, Any]:
    """Requests grouped by the caller-supplied end-user id, with spend and last activity
    (estimated where sampled: `sampled_rows` > 0)."""
    source, params = rollup.hours(organization_id=organization_id, retention_days=retention_days,
                                  of=rollup.USERS, project_id=project_id)
    direction = "ASC" if sort_dir == "asc" else "DESC"
    rows = get_engine().select(
        f"SELECT end_user AS user_id, toUInt64(round({rollup.CALLS})) AS requests, {rollup.SPEND} AS cost_usd, "
        f"toUInt64(round({rollup.TOKENS})) AS total_tokens, toUInt64(round(sum(errors))) AS errors, "
        "toUInt64(round(sum(unpriced))) AS unpriced, max(last_seen) AS last_seen, "
        f"{rollup.SAMPLED} AS sampled_rows, {rollup.KEPT} AS kept_rows "
        f"FROM ({source}) WHERE end_user != '' GROUP BY end_user "
        f"ORDER BY {USER_SORT_COLUMNS[sort_by]} {direction}, user_id ASC "
        "LIMIT {limit:UInt32} OFFSET {offset:UInt64}",
        {**params, "limit": int(limit), "offset": (max(page, 1) - 1) * int(limit)},
    )
    total = get_engine().select(f"SELECT uniqExact(end_user) AS n FROM ({source}) WHERE end_user != ''", params)
    return {"rows": rows, "total": int(total[0]["n"]) if total else 0}


def list_models_seen(*, organization_id: str, retention_days: int = 365) -> list[dict]:
    """Distinct provider/model pairs in the log (filter suggestions)."""
    source, params = rollup.hours(organization_id=organization_id, retention_days=retention_days)
    return get_engine().select(
        f"SELECT provider, model, {rollup.KEPT} AS n FROM ({source}) "
        "GROUP BY provider, model ORDER BY n DESC LIMIT 200",
        params,
    )


def list_unpriced_models(*, organization_id: str, retention_days: int = 365, hours: int = 24 * 30) -> list[dict]:
    """Provider/model pairs logged without a price in the last `hours`, with call counts."""
    where, params = _scope(organization_id, retention_days)
    return get_engine().select(
        "SELECT provider, model, count() AS calls, "
        "countIf(created_at >= now64(3) - toIntervalHour(24)) AS calls_24h, "
        "min(created_at) AS first_seen, max(created_at) AS last_seen "
        f"FROM requests WHERE {where} AND cost_source = 'unknown' AND model != '' "
        "AND created_at >= now64(3) - toIntervalHour({hours:UInt32}) "
        "GROUP BY provider, model ORDER BY calls DESC LIMIT 500",
        {**params, "hours": int(hours)},
    )


def list_models_in_use(*, organization_id: str | None, days: int = 90) -> list[dict]:
    """Provider/model pairs called in the last `days` days; every tenant's when
    organization_id is None, on purpose: the price table is shared, and a price some
    organization's traffic still uses must not be deleted (sync_prices)."""
    since = datetime.now(timezone.utc) - timedelta(days=int(days))
    source, params = rollup.hours(organization_id=organization_id, since=since)
    return get_engine().select(
        f"SELECT provider, model, {rollup.KEPT} AS calls FROM ({source}) WHERE model != '' GROUP BY provider, model",
        params,
    )


# --- benchmark ----------------------------------------------------------------
# Used by `make bench` only, on a throwaway chDB folder, to time dashboard reads
# at volume. The rows are made inside ClickHouse from numbers(), so generating
# millions of them costs no Python and no network.

def generate_bench_rows(*, organization_id: str, project_id: str, count: int, days: int = 30,
                        start: int = 0) -> None:
    """count synthetic calls for one project, spread evenly over the last `days` days."""
    get_engine().command(
        f"INSERT INTO requests ({', '.join(REQUEST_COLUMNS)}) "
        # A v7 id made of the row's own created_at (ids.py), as the proxy writes them.
        "SELECT toUUID(concat(substring(ms_hex, 1, 8), '-', substring(ms_hex, 9, 4), '-7', substring(r, 16, 3), '-', "
        "substring(r, 20, 4), '-', substring(r, 25, 12))), {org:UUID}, {project:UUID}, NULL, NULL, "
        "['openai', 'anthropic', 'gemini'][number % 3 + 1], "
        "['gpt-4o-mini', 'gpt-4o', 'claude-3-5-haiku-20241022', 'gemini-1.5-flash'][number % 4 + 1], "
        "['v1/chat/completions', 'v1/messages', 'v1/embeddings'][number % 3 + 1], 'POST', number % 2 = 0, "
        "20 + number % 500, 5 + number % 300, 25 + number % 500 + number % 300, 0, 0, "
        "toDecimal64((20 + number % 500) * 0.00000015 + (5 + number % 300) * 0.0000006, 8), 'reported', "
        "100 + number % 2000, number % 7, if(number % 50 = 0, 429, if(number % 97 = 0, 500, 200)), "
        "concat('{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"question ', "
        "toString(number), ' ', repeat('lorem ipsum ', 40), '\"}]}'), "
        "concat('{\"id\":\"chatcmpl-', toString(number), '\",\"choices\":[{\"message\":{\"content\":\"', "
        "repeat('dolor sit amet ', 25), '\"}}]}'), "
        # Every fifth call belongs to a session of ten calls in a row.
        "NULL, NULL, NULL, if(number % 10 = 0, concat('user-', toString(number % 1000)), NULL), "
        "if(number % 5 = 0, concat('session-', toString(intDiv(number, 50))), NULL), "
        "'full', '[]', '[]', false, '', "
        "at, false, NULL, 1, false "  # cache_hit, cost_saved_usd, sample_rate, usage_clamped
        "FROM (SELECT number, at, leftPad(lower(hex(toUnixTimestamp64Milli(at))), 12, '0') AS ms_hex, "
        "toString(generateUUIDv4(number)) AS r FROM (SELECT number, "
        "now64(3) - toIntervalMillisecond(intDiv((number - {start:UInt64}) * {span_ms:UInt64}, {count:UInt64})) AS at "
        "FROM numbers({start:UInt64}, {count:UInt64})))",
        {"org": str(organization_id), "project": str(project_id), "count": int(count), "start": int(start),
         "span_ms": int(days) * 86_400_000},
    )


# --- prompts ------------------------------------------------------------------
# Calls linked to prompt versions (x-spanlens-prompt-version), for /prompts and the A/B results.

_ERROR = "(status_code >= 400 OR status_code = 0)"
_COST = "toFloat64(ifNull(cost_usd, toDecimal64(0, 8)))"
# The experiment's assignment key, as a column (anything else is refused before SQL).
# The version ids travel as one comma-separated String parameter: both engines bind it
# the same way, which an Array(UUID) parameter does not guarantee.
_IN_IDS = "has(splitByChar(',', {ids:String}), toString(prompt_version_id))"
ARM_UNIT_COLUMNS = {"user_id": "user_id", "session_id": "session_id", "trace_id": "toString(trace_id)"}


def list_prompt_version_totals(
    *, organization_id: str, version_ids: list[str], retention_days: int = 365, days: int = 7
) -> list[dict]:
    """Calls, cost and errors per prompt version over the last `days` days (sampled calls scaled up)."""
    if not version_ids:
        return []
    where, params = _scope(organization_id, retention_days)
    return get_engine().select(
        f"SELECT toString(prompt_version_id) AS version_id, toUInt64(round({W.est_count()})) AS calls, "
        f"{W.est_sum(_COST)} AS cost_usd, toUInt64(round({W.est_count(_ERROR)})) AS errors, "
        f"{W.SAMPLED_ROWS} AS sampled_rows FROM requests WHERE {where} "
        "AND " + _IN_IDS + " AND created_at >= now64(3) - toIntervalDay({days:UInt32}) "
        "GROUP BY version_id",
        {**params, "ids": _id_list(version_ids), "days": int(days)},
    )


def list_prompt_daily_calls(
    *, organization_id: str, version_ids: list[str], retention_days: int = 365, days: int = 7
) -> list[dict]:
    """Calls per prompt version per UTC day, for the sparklines (days without calls are absent)."""
    if not version_ids:
        return []
    where, params = _scope(organization_id, retention_days)
    return get_engine().select(
        "SELECT toString(prompt_version_id) AS version_id, toString(toDate(created_at)) AS day, "
        f"toUInt64(round({W.est_count()})) AS calls "
        f"FROM requests WHERE {where} AND {_IN_IDS} "
        "AND created_at >= toStartOfDay(now64(3)) - toIntervalDay({days:UInt32}) "
        "GROUP BY version_id, day ORDER BY day",
        {**params, "ids": _id_list(version_ids), "days": int(days) - 1},
    )


def list_prompt_calls(
    *, organization_id: str, version_ids: list[str], retention_days: int = 365, limit: int = 50
) -> list[dict]:
    """The newest calls of some prompt versions (summaries, no bodies)."""
    if not version_ids:
        return []
    where, params = _scope(organization_id, retention_days)
    return get_engine().select(
        f"SELECT {', '.join(SUMMARY_COLUMNS)} FROM requests WHERE {where} "
        "AND " + _IN_IDS + " ORDER BY created_at DESC, id DESC LIMIT {limit:UInt32}",
        {**params, "ids": _id_list(version_ids), "limit": int(limit)},
    )


def list_prompt_arm_stats(
    *,
    organization_id: str,
    version_ids: list[str],
    since: datetime,
    until: datetime | None = None,
    unit: str = "user_id",
    retention_days: int = 365,
) -> list[dict]:
    """Per version in a time window: what the A/B results need (counts, means, variances, quantiles)."""
    if not version_ids:
        return []
    unit_column = ARM_UNIT_COLUMNS[unit]
    where, params = _scope(organization_id, retention_days)
    where += f" AND {_IN_IDS}" + " AND created_at >= {since:DateTime64(3, 'UTC')}"
    params.update({"ids": _id_list(version_ids), "since": format_ts(since)})
    if until is not None:
        where += " AND created_at < {until:DateTime64(3, 'UTC')}"
        params["until"] = format_ts(until)
    return get_engine().select(
        "SELECT toString(prompt_version_id) AS version_id, count() AS calls, "
        f"uniqExactIf({unit_column}, {unit_column} IS NOT NULL AND {unit_column} != '') AS units, "
        f"countIf({_ERROR}) AS errors, countIf(NOT {_ERROR}) AS ok_calls, "
        # Latency and cost of the calls that succeeded: a failure is fast and free, and the
        # error rate already counts it.
        f"avgIf(latency_ms, NOT {_ERROR}) AS latency_mean, varSampIf(toFloat64(latency_ms), NOT {_ERROR}) AS latency_var, "
        f"quantileExactIf(0.5)(latency_ms, NOT {_ERROR}) AS latency_p50, "
        f"quantileExactIf(0.95)(latency_ms, NOT {_ERROR}) AS latency_p95, "
        f"avgIf({_COST}, NOT {_ERROR}) AS cost_mean, varSampIf({_COST}, NOT {_ERROR}) AS cost_var, "
        f"sum({_COST}) AS cost_total "
        f"FROM requests WHERE {where} GROUP BY version_id",
        params,
    )


def stored_request_ids(ids: list[str], *, since: datetime) -> set[str]:
    """Which of these ids are stored already, in any tenant: only the log writer's crash
    recovery asks, to replay a spool without writing a row twice."""
    if not ids:
        return set()
    rows = get_engine().select(
        # Not `toString(id) AS id`: ClickHouse would read the alias in WHERE too.
        "SELECT id FROM requests "
        "WHERE created_at >= {since:DateTime64(3, 'UTC')} AND id IN {ids:Array(UUID)}",
        {"since": format_ts(since), "ids": uuid_array(ids)},
    )
    return {r["id"] for r in rows}

# --- eval runs --------------------------------------------------------------------
# Production samples: successful calls with a stored response, never our own judge calls.
# The calls a production eval samples; the hourly rollup counts them too (rollup._SAMPLEABLE).
_EVAL_SAMPLE_WHERE = " AND origin = '' AND status_code >= 200 AND status_code < 300 AND response_body != ''"


def list_eval_sample_ids(
    *, organization_id: str, retention_days: int = 365, seed: int, limit: int, **filters: Any
) -> list[str]:
    """A random sample of the filtered requests' ids; the same seed over the same rows draws
    the same sample (ordered by a hash of the id keyed with the seed)."""
    where, params = _request_filters(organization_id, retention_days, **filters)
    rows = get_engine().select(
        f"SELECT id FROM requests WHERE {where}{_EVAL_SAMPLE_WHERE} "
        "ORDER BY sipHash64(id, {seed:UInt64}), id LIMIT {limit:UInt32}",
        {**params, "seed": int(seed) % (2 ** 64), "limit": int(limit)},
    )
    return [row["id"] for row in rows]


def count_eval_sample_requests(*, organization_id: str, retention_days: int = 365, **filters: Any) -> dict:
    """How many requests a production eval could sample, and their average token counts."""
    source, params = rollup.hours(organization_id=organization_id, retention_days=retention_days, **filters)
    ok = STATUS_FILTERS["ok"]
    rows = get_engine().select(
        f"SELECT sumIf(eval_rows, {ok}) AS n, sumIf(eval_prompt_sum, {ok}) / nullIf(n, 0) AS prompt_tokens, "
        f"sumIf(eval_completion_sum, {ok}) / nullIf(n, 0) AS completion_tokens FROM ({source})",
        params,
    )
    row = rows[0] if rows else {}
    n = int(row.get("n") or 0)
    return {
        "count": n,
        "avg_prompt_tokens": float(row.get("prompt_tokens") or 0) if n else 0.0,
        "avg_completion_tokens": float(row.get("completion_tokens") or 0) if n else 0.0,
    }


def list_requests_by_ids(*, organization_id: str, request_ids: list[str], retention_days: int = 365) -> list[dict]:
    """Full rows (bodies included) for the given ids of one organization."""
    if not request_ids:
        return []
    where, params = _scope(organization_id, retention_days)
    return get_engine().select(
        f"SELECT {', '.join(REQUEST_COLUMNS)} FROM requests WHERE {where} AND id IN {{ids:Array(UUID)}}",
        {**params, "ids": uuid_array(request_ids)},
    )


def uuid_array(ids) -> str:
    """An Array(UUID) parameter in ClickHouse's text form, which both engines bind alike
    (chDB refuses a Python list); uuid.UUID() has checked every element."""
    import uuid

    return "[" + ",".join(f"'{uuid.UUID(str(i))}'" for i in ids) + "]"


def _id_list(ids) -> str:
    import uuid

    return ",".join(str(uuid.UUID(str(i))) for i in ids)


def list_prompt_versions_of_requests(
    *, organization_id: str, request_ids: list[str], version_ids: list[str], retention_days: int = 365
) -> list[dict]:
    """(request id, prompt version id) for those requests that carry one of the versions (eval scores per arm)."""
    if not request_ids or not version_ids:
        return []
    where, params = _scope(organization_id, retention_days)
    return get_engine().select(
        "SELECT toString(id) AS request_id, toString(prompt_version_id) AS version_id FROM requests "
        f"WHERE {where} AND {_IN_IDS} AND has(splitByChar(',', {{request_ids:String}}), toString(id))",
        {**params, "ids": _id_list(version_ids), "request_ids": _id_list(request_ids)},
    )


# --- security flags -------------------------------------------------------------

def list_flag_counts_over_time(
    *, organization_id: str, since: datetime, bucket_seconds: int, retention_days: int = 365,
    project_id: str | None = None,
) -> list[dict]:
    """Flagged calls per time bucket and finding type (a call with two types counts once in each)."""
    where, params = _request_filters(organization_id, retention_days, project_id=project_id, since=since,
                                     flag="any")
    return get_engine().select(
        "SELECT toStartOfInterval(created_at, toIntervalSecond({bucket:UInt32})) AS bucket, "
        f"arrayJoin(arrayDistinct({FLAG_TYPES})) AS type, count() AS calls "
        f"FROM requests WHERE {where} GROUP BY bucket, type ORDER BY bucket, type",
        {**params, "bucket": int(bucket_seconds)},
    )


FLAG_DIMENSIONS = {"project": "toString(project_id)", "user": "ifNull(user_id, '')", "model": "model"}


def list_top_flagged(
    *, organization_id: str, dimension: str, since: datetime, limit: int = 5, retention_days: int = 365,
    project_id: str | None = None,
) -> list[dict]:
    """The projects, users or models with the most flagged calls: calls, findings, PII and injection calls."""
    where, params = _request_filters(organization_id, retention_days, project_id=project_id, since=since,
                                     flag="any")
    key = FLAG_DIMENSIONS[dimension]
    return get_engine().select(
        f"SELECT {key} AS key, count() AS calls, "
        f"countIf({FLAG_GROUPS['pii']}) AS pii_calls, countIf({FLAG_GROUPS['injection']}) AS injection_calls "
        f"FROM requests WHERE {where} GROUP BY key HAVING key != '' ORDER BY calls DESC, key LIMIT {{limit:UInt32}}",
        {**params, "limit": int(limit)},
    )


def get_spend_since(
    *, organization_id: str, since: datetime, project_id: str | None = None, api_key_id: str | None = None,
    user_id: str | None = None, retention_days: int = 365,
) -> Decimal:
    """What one budget's subject spent from `since` on, each row weighted by 1 / sample_rate
    (a budget's counter starts from this when the proxy has no live figure)."""
    where, params = _scope(organization_id, retention_days)
    where += " AND created_at >= {since:DateTime64(3, 'UTC')}"
    params["since"] = format_ts(since)
    if project_id:
        where += " AND project_id = {project:UUID}"
        params["project"] = str(project_id)
    if api_key_id:
        where += " AND api_key_id = {key:UUID}"
        params["key"] = str(api_key_id)
    if user_id:
        where += " AND user_id = {user:String}"
        params["user"] = user_id
    rows = get_engine().select(
        "SELECT toString(sum(toDecimal64(ifNull(cost_usd, toDecimal64(0, 8)) / if(sample_rate > 0, sample_rate, 1), 8)))"
        f" AS spend FROM requests WHERE {where}",
        params,
    )
    return Decimal(rows[0]["spend"]) if rows and rows[0]["spend"] else Decimal(0)


def list_user_spend_since(
    *, organization_id: str, since: datetime, project_id: str | None = None, limit: int = 5,
    retention_days: int = 365,
) -> list[dict]:
    """The end users who spent most from `since` on (weighted by 1 / sample_rate)."""
    where, params = _scope(organization_id, retention_days)
    where += " AND created_at >= {since:DateTime64(3, 'UTC')} AND user_id IS NOT NULL AND user_id != ''"
    params["since"] = format_ts(since)
    if project_id:
        where += " AND project_id = {project:UUID}"
        params["project"] = str(project_id)
    return get_engine().select(
        "SELECT assumeNotNull(user_id) AS user_id, toString(sum(toDecimal64(ifNull(cost_usd, toDecimal64(0, 8)) "
        "/ if(sample_rate > 0, sample_rate, 1), 8))) AS spend "
        f"FROM requests WHERE {where} GROUP BY user_id ORDER BY sum(ifNull(cost_usd, toDecimal64(0, 8))) DESC, "
        "user_id LIMIT {limit:UInt32}",
        {**params, "limit": int(limit)},
    )

"""Reads for /sessions: calls grouped by their x-spanlens-session value, and one session's calls.

`last_user` is the user of the session's latest call. Counts and sums are weighted by 1 / sample_rate (see weighting): a session of a sampled
client shows its estimated size; `sampled_rows` > 0 says so.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from spanlens.requestlog import rollup
from spanlens.requestlog import weighting as W
from spanlens.requestlog.engine import _string_array, get_engine
from spanlens.requestlog.queries import ERROR_CONDITION, REQUEST_COLUMNS, _request_filters

SESSION_SORT_COLUMNS = {
    "last_seen": "last_seen",
    "first_seen": "first_seen",
    "requests": "requests",
    "cost_usd": "cost_usd",
    "total_tokens": "total_tokens",
    "errors": "errors",
    "duration": "duration_ms",
}
_AGGREGATES = (
    "argMax(ifNull(user_id, ''), created_at) AS last_user, "
    f"toUInt64(round({W.est_count()})) AS requests, {W.est_sum(W.COST)} AS cost_usd, "
    f"toUInt64(round({W.est_sum('total_tokens')})) AS total_tokens, "
    f"toUInt64(round({W.est_count(ERROR_CONDITION)})) AS errors, "
    "min(created_at) AS first_seen, max(created_at) AS last_seen, "
    "toUnixTimestamp64Milli(max(created_at)) - toUnixTimestamp64Milli(min(created_at)) AS duration_ms, "
    f"groupUniqArray(4)(model) AS models, count() AS kept_rows, {W.SAMPLED_ROWS} AS sampled_rows"
)


# _AGGREGATES over rows of the sessions rollup (rollup.SESSIONS), by output name: the latest
# call's user is the user of the group holding the latest call.
_ROLLED_UP = {
    "last_user": "argMax(end_user, last_call)",
    "requests": f"toUInt64(round({rollup.CALLS}))",
    "cost_usd": rollup.SPEND,
    "total_tokens": f"toUInt64(round({rollup.TOKENS}))",
    "errors": "toUInt64(round(sum(errors)))",
    "first_seen": "min(first_call)",
    "last_seen": "max(last_call)",
    "duration_ms": "toUnixTimestamp64Milli(max(last_call)) - toUnixTimestamp64Milli(min(first_call))",
    "models": "groupUniqArray(4)(model)",
    "kept_rows": rollup.KEPT,
    "sampled_rows": rollup.SAMPLED,
}


def list_sessions(
    *,
    organization_id: str,
    retention_days: int = 365,
    project_id: str | None = None,
    user_id: str | None = None,
    model: str | None = None,
    search: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    errors_only: bool = False,
    sort_by: str = "last_seen",
    sort_dir: str = "desc",
    page: int = 1,
    limit: int = 50,
) -> dict[str, Any]:
    """One page of sessions (of the calls matching the filters) and how many there are."""
    source, params = rollup.hours(organization_id=organization_id, retention_days=retention_days,
                                  of=rollup.SESSIONS, project_id=project_id, user_id=user_id, model=model,
                                  since=since, until=until)
    where = ""
    if search:
        where = " WHERE positionCaseInsensitiveUTF8(session, {session_search:String}) > 0"
        params["session_search"] = search
    having = " HAVING sum(errors) > 0" if errors_only else ""  # weights are >= 1: 0 or a whole error
    direction = "ASC" if sort_dir == "asc" else "DESC"
    engine = get_engine()
    # The page's sessions by their sort value alone, then every figure of those 50 only: the
    # figures of all 200,000 sessions of a 10M-row log cost twice the whole read.
    page_of = engine.select(
        f"SELECT session, {_ROLLED_UP[SESSION_SORT_COLUMNS[sort_by]]} AS sort_value, count() OVER () AS total "
        f"FROM ({source}){where} GROUP BY session{having} ORDER BY sort_value {direction}, session ASC "
        "LIMIT {limit:UInt32} OFFSET {offset:UInt64}",
        {**params, "limit": int(limit), "offset": (max(page, 1) - 1) * int(limit)},
    )
    if not page_of:
        total = engine.select(f"SELECT count() AS n FROM (SELECT session FROM ({source}){where} "
                              f"GROUP BY session{having})", params)
        return {"rows": [], "total": int(total[0]["n"]) if total else 0}
    figures = ", ".join(f"{expression} AS {name}" for name, expression in _ROLLED_UP.items())
    rows = engine.select(
        f"SELECT session AS session_id, {figures} FROM ({source}) "
        f"WHERE session IN {{page_sessions:Array(String)}} GROUP BY session "
        f"ORDER BY {SESSION_SORT_COLUMNS[sort_by]} {direction}, session_id ASC",
        {**params, "page_sessions": _string_array(r["session"] for r in page_of)},
    )
    return {"rows": rows, "total": int(page_of[0]["total"])}


def get_session(*, organization_id: str, session_id: str, retention_days: int = 365) -> dict | None:
    """One session's totals, or None when the organization has no call in it."""
    where, params = _request_filters(organization_id, retention_days, session_id=session_id)
    rows = get_engine().select(
        f"SELECT assumeNotNull(session_id) AS session_id, {_AGGREGATES} FROM requests WHERE {where} "
        "GROUP BY session_id",
        params,
    )
    return rows[0] if rows else None


def list_session_calls(
    *, organization_id: str, session_id: str, retention_days: int = 365, limit: int = 200
) -> list[dict]:
    """A session's calls in the order they were made, bodies included (the conversation)."""
    where, params = _request_filters(organization_id, retention_days, session_id=session_id)
    return get_engine().select(
        f"SELECT {', '.join(REQUEST_COLUMNS)} FROM requests WHERE {where} "
        "ORDER BY created_at ASC, id ASC LIMIT {limit:UInt32}",
        {**params, "limit": int(limit)},
    )

"""/sessions: calls grouped by x-spanlens-session, and one session as a conversation."""
from __future__ import annotations

from urllib.parse import quote

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from dashboard import bodies, session_filters
from dashboard import rows as rows_mod
from spanlens.core import access as access_mod
from spanlens.core.access import Access, org_required
from spanlens.requestlog import sessions as session_queries
from spanlens.sharing.views import default_redirect

SORTABLE = (("requests", "Requests"), ("cost_usd", "Cost"), ("total_tokens", "Tokens"), ("errors", "Errors"),
            ("first_seen", "Started"), ("last_seen", "Last call"), ("duration", "Duration"))
TIMELINE_LIMIT = 200


def _session_row(row: dict) -> dict:
    return {
        **row,
        "user_id": row.get("last_user") or "",
        "requests": int(row["requests"]), "errors": int(row["errors"]), "total_tokens": int(row["total_tokens"]),
        "cost_usd": float(row["cost_usd"] or 0), "duration_ms": int(row["duration_ms"] or 0),
        "first_seen": rows_mod.parse_ts(row["first_seen"]), "last_seen": rows_mod.parse_ts(row["last_seen"]),
        "sampled": int(row.get("sampled_rows") or 0) > 0, "kept_rows": int(row.get("kept_rows") or 0),
        "url": "/sessions/" + quote(row["session_id"], safe="") + "/",
    }


@org_required
def sessions_page(request: HttpRequest, access: Access) -> HttpResponse:
    if opened_default := default_redirect(request, access, "sessions"):
        return opened_default
    f = session_filters.parse(request.GET)
    project = access_mod.current_project(request)
    result = session_queries.list_sessions(
        organization_id=access.organization.id, retention_days=access.retention_days,
        project_id=str(project.id) if project else None, **f.query_kwargs(),
    )
    total = result["total"]
    pages = max((total + session_filters.LIMIT - 1) // session_filters.LIMIT, 1)
    headers = [{"key": key, "label": label, **f.sort_link(key)} for key, label in SORTABLE]
    return render(request, "dashboard/sessions.html", {
        "f": f, "sessions": [_session_row(r) for r in result["rows"]], "total": total, "pages": pages,
        "headers": {h["key"]: h for h in headers}, "qs": f.querystring(),
        "prev_qs": f.querystring(page=f.page - 1) if f.page > 1 else None,
        "next_qs": f.querystring(page=f.page + 1) if f.page < pages else None,
        "filtered": bool(f.params(sortBy="last_seen", sortDir="desc", page=1)),
    })


def _turn(row: dict, first: bool) -> dict:
    """One call of the conversation: what was new in its request, and the model's reply."""
    request_data = bodies.load(row.get("request_body"))
    response_data = bodies.load(row.get("response_body"))
    convo = bodies.conversation(row["provider"], request_data) or {"system": [], "messages": []}
    messages = convo["messages"]
    # A chat client resends the whole history: the new turn is what follows the last reply.
    last_reply = max((i for i, m in enumerate(messages) if m["role"] in ("assistant", "model")), default=-1)
    return {
        "r": row,
        "system": convo["system"] if first else [],
        "inputs": messages[last_reply + 1:] or messages[-1:],
        "earlier": last_reply + 1 if messages[last_reply + 1:] else max(len(messages) - 1, 0),
        "reply": bodies.response_text(row["provider"], response_data),
        "reply_tool_calls": bodies.response_tool_calls(row["provider"], response_data),
        "no_body": row.get("log_body") != "full" or not row.get("request_body"),
    }


@org_required
def session_detail(request: HttpRequest, access: Access, session_id: str) -> HttpResponse:
    summary = session_queries.get_session(organization_id=access.organization.id, session_id=session_id,
                                          retention_days=access.retention_days)
    if summary is None:
        raise Http404("No such session")
    calls = session_queries.list_session_calls(organization_id=access.organization.id, session_id=session_id,
                                               retention_days=access.retention_days, limit=TIMELINE_LIMIT)
    calls = rows_mod.with_key_names(access.organization.id, calls)
    session = _session_row(summary)
    start = session["first_seen"]
    turns = []
    for i, row in enumerate(calls):
        turn = _turn(row, first=i == 0)
        turn["offset_s"] = (row["created_at"] - start).total_seconds() if start and row.get("created_at") else 0
        turns.append(turn)
    return render(request, "dashboard/session_detail.html", {
        "s": session, "turns": turns, "shown": len(calls), "truncated": session["kept_rows"] > len(calls),
        "requests_link": "/requests/?sessionId=" + quote(session_id, safe=""),
    })

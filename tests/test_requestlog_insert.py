"""insert_requests stores a batch the same whichever way it travels to chDB
(Arrow when every row has the same columns, JSON otherwise)."""
import uuid
from datetime import datetime, timezone

from spanlens.requestlog import queries


def _full_row(org_id, **extra):
    """Every column, as the proxy's log writer produces them."""
    row = {column: None for column in queries.REQUEST_COLUMNS}
    row.update({
        "id": str(uuid.uuid4()), "organization_id": org_id, "project_id": str(uuid.uuid4()),
        "provider": "openai", "model": "gpt-4o-mini", "endpoint": "v1/chat/completions", "method": "POST",
        "stream": True, "prompt_tokens": 21, "completion_tokens": 9, "total_tokens": 30,
        "cache_read_tokens": 0, "cache_write_tokens": 0, "cost_usd": "0.00000855", "latency_ms": 120,
        "proxy_overhead_ms": 1, "status_code": 200, "request_body": '{"a":"ü"}', "response_body": "{}",
        "log_body": "full", "flags": "[]", "response_flags": "[]", "truncated": False, "error_message": "",
        "created_at": queries.format_ts(datetime.now(timezone.utc)),
    })
    row.update(extra)
    return row


def test_a_uniform_batch_reads_back_column_for_column():
    org = str(uuid.uuid4())
    rows = [_full_row(org), _full_row(org, cost_usd=None, user_id="u-1", trace_id=str(uuid.uuid4()))]
    queries.insert_requests(rows)

    assert queries.count_requests(organization_id=org) == 2
    first = queries.get_request(organization_id=org, request_id=rows[0]["id"])
    assert first["cost_usd"] in ("0.00000855", 0.00000855)
    assert first["stream"] is True and first["request_body"] == '{"a":"ü"}' and first["user_id"] is None
    second = queries.get_request(organization_id=org, request_id=rows[1]["id"])
    assert second["cost_usd"] is None and second["user_id"] == "u-1" and second["trace_id"] == rows[1]["trace_id"]


def test_none_in_a_plain_column_takes_its_default():
    org = str(uuid.uuid4())
    row = _full_row(org, model=None, error_message=None)
    queries.insert_requests([row])
    got = queries.get_request(organization_id=org, request_id=row["id"])
    assert got["model"] == "" and got["error_message"] == ""


def test_rows_with_different_columns_still_go_in():
    org = str(uuid.uuid4())
    short = {k: v for k, v in _full_row(org).items() if v is not None and k not in ("flags", "method")}
    queries.insert_requests([_full_row(org), short])
    queries.insert_requests([_full_row(org), _full_row(org, latency_ms="12")])  # mixed types in a column
    assert queries.count_requests(organization_id=org) == 4
    got = queries.get_request(organization_id=org, request_id=short["id"])
    assert got["method"] == "POST" and got["flags"] == "[]"

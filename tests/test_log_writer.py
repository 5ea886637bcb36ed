"""The request-log writer never dies: with ClickHouse and the fallback table both
really unavailable (tables renamed away), rows wait in memory, the failure is
visible, and every row arrives once the stores are back."""
from __future__ import annotations

import contextlib
import time

import httpx
import pytest
from django.db import connection

from spanlens.core.models import RequestFallback
from spanlens.requestlog.engine import get_engine
from spanlens.requestlog.writer import get_writer, storable

MESSAGES = [{"role": "user", "content": "hello"}]


@contextlib.contextmanager
def clickhouse_table_gone():
    get_engine().command("RENAME TABLE requests TO requests_away")
    try:
        yield
    finally:
        get_engine().command("RENAME TABLE requests_away TO requests")


@contextlib.contextmanager
def fallback_table_gone():
    table = RequestFallback._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {table} RENAME TO {table}_away")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {table}_away RENAME TO {table}")


def wait_until(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_rows_survive_both_stores_failing_and_arrive_when_they_return(
    live_db, upstream, provider_keys, openai_client, org, read_rows, spanlens_server
):
    writer = get_writer()
    failures_before = writer.failures
    calls = 5
    with clickhouse_table_gone(), fallback_table_gone():
        for _ in range(calls):
            openai_client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        # The writer tried, failed, kept the rows and is still alive.
        assert wait_until(lambda: writer.failures > failures_before)
        # Between two tries the whole batch is back in the queue.
        assert wait_until(lambda: writer.status().pending >= calls)
        status = writer.status()
        assert status.alive
        assert status.last_error
        deep = httpx.get(f"{spanlens_server.url}/health/deep", timeout=20).json()
        assert deep["log_writer"]["alive"] is True
        assert deep["log_writer"]["failures"] > failures_before
        assert deep["log_writer"]["last_error"]

    # Both stores are back: the same thread writes everything, exactly once.
    assert wait_until(lambda: writer.pending == 0, timeout=40)
    rows = read_rows(org.id, expect=calls)
    assert len(rows) == calls
    assert len({row["id"] for row in rows}) == calls
    assert writer.status().alive
    assert RequestFallback.objects.count() == 0


def test_with_only_the_fallback_working_rows_go_there_with_nul_made_storable(
    live_db, upstream, provider_keys, openai_client, org, read_rows
):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL is the store that refuses NUL (make test)")
    with clickhouse_table_gone():
        openai_client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "a\x00b"}])
        assert wait_until(lambda: RequestFallback.objects.count() == 1, timeout=15)
    [item] = RequestFallback.objects.all()
    assert "\x00" not in item.row["request_body"]
    assert "a\u2400b" in item.row["request_body"] or "a\\u0000b" in item.row["request_body"]
    assert get_writer().status().alive


def test_the_dashboard_says_when_rows_wait_in_memory(client, owner, org, monkeypatch):
    from spanlens.requestlog import writer as writer_mod

    # A writer that has not started its thread: its queue stays as set here.
    stuck = writer_mod.RequestLogWriter(batch_size=10_000, interval_s=60)
    monkeypatch.setattr(writer_mod, "_writer", stuck)
    monkeypatch.setattr(stuck, "_start", lambda: None)
    for i in range(3):
        stuck.enqueue({"id": str(i)})
    stuck.last_error = "OperationalError: database is locked"
    stuck._oldest_at = time.monotonic() - 60
    client.force_login(owner)
    page = client.get("/requests/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="log-writer-banner"' in html
    assert "3 request-log rows wait in memory" in html
    assert "database is locked" in html


def test_a_full_queue_counts_what_it_drops(monkeypatch):
    from spanlens.requestlog.writer import RequestLogWriter

    writer = RequestLogWriter(batch_size=10_000, interval_s=60)
    monkeypatch.setattr(writer, "max_pending", 3)
    monkeypatch.setattr(writer, "_start", lambda: None)
    for i in range(5):
        writer.enqueue({"id": str(i)})
    assert writer.pending == 3
    assert writer.status().rows_dropped == 2


def test_storable_replaces_nul_everywhere():
    assert storable({"a": ["x\x00", {"b": "\x00"}], "n": 1}) == {"a": ["x\u2400", {"b": "\u2400"}], "n": 1}


def test_a_call_whose_row_cannot_be_built_is_still_logged_with_what_is_known(
    live_db, upstream, provider_keys, openai_client, org, read_rows, monkeypatch
):
    from proxy.providers import ADAPTERS

    def parsing_bug(body, model):
        raise KeyError("choices")

    # A parser defect (the kind a new provider field can expose), not an odd body we handle.
    monkeypatch.setattr(ADAPTERS["openai"], "parse_response", parsing_bug)
    reply = openai_client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    [row] = read_rows(org.id, expect=1)
    assert row["status_code"] == 200
    assert row["cost_usd"] is None and row["cost_source"] == "unknown"
    assert "could not parse" in row["error_message"]
    assert reply.choices[0].message.content in row["response_body"]
    assert "hello" in row["request_body"]

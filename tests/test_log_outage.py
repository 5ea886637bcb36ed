"""With the request log down, pages and APIs say so (503) instead of a 500, exports
fail before sending a partial file, the proxy keeps serving, and everything works
again by itself once ClickHouse is back."""
from __future__ import annotations

import os
import time

import httpx
import pytest
from django.db import connection
from django.test import Client

from spanlens.core.models import RequestFallback
from tests import mock_upstream as mock
from tests.procs import database_url_for, free_port, web_server
from tests.test_log_writer import clickhouse_table_gone

REDIS = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def test_pages_apis_and_exports_answer_503_while_the_log_is_gone_and_recover(client, owner, org, api_key):
    client.force_login(owner)
    raw = api_key[1]
    with clickhouse_table_gone():
        page = client.get("/requests/")
        assert page.status_code == 503
        assert b"Request log unavailable" in page.content
        assert b"waiting" in page.content

        api = Client().get("/api/v1/requests", HTTP_AUTHORIZATION=f"Bearer {raw}")
        assert api.status_code == 503
        body = api.json()
        assert body["success"] is False and "unavailable" in body["error"]
        assert api["Retry-After"]

        for fmt in ("csv", "jsonl"):
            export = client.get(f"/requests/export.{fmt}")
            assert export.status_code == 503, fmt
            assert not export.has_header("Content-Disposition")

    assert client.get("/requests/").status_code == 200
    assert Client().get("/api/v1/requests", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200
    export = client.get("/requests/export.csv")
    assert export.status_code == 200
    assert b"".join(export.streaming_content).startswith(b"id,")


def test_an_unreachable_clickhouse_server_is_a_503_and_the_proxy_keeps_serving(
    tmp_path, live_db, project, api_key, mock_upstream
):
    if connection.vendor != "postgresql":
        pytest.skip("needs the real PostgreSQL (make test)")
    from spanlens.core import services

    services.add_provider_key(project, "openai", mock.OPENAI_KEY, "OpenAI prod")
    raw = api_key[1]
    env = dict(
        DATABASE_URL=database_url_for(connection.settings_dict["NAME"]), REDIS_URL=REDIS,
        CLICKHOUSE_URL=f"http://127.0.0.1:{free_port()}", OPENAI_BASE_URL=mock_upstream.url,
        ENCRYPTION_KEY=os.environ["ENCRYPTION_KEY"],
    )
    with web_server(tmp_path, **env) as url:
        call = httpx.post(f"{url}/proxy/openai/v1/chat/completions", timeout=20,
                          headers={"Authorization": f"Bearer {raw}"},
                          json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]})
        assert call.status_code == 200
        deadline = time.monotonic() + 20
        while RequestFallback.objects.count() < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert RequestFallback.objects.count() == 1

        api = httpx.get(f"{url}/api/v1/requests", headers={"Authorization": f"Bearer {raw}"}, timeout=20)
        assert api.status_code == 503
        assert api.headers["content-type"].startswith("application/json")
        body = api.json()
        assert body["success"] is False
        assert body["rows_waiting"] == 1

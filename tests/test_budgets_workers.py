"""Two real web processes share PostgreSQL and Redis: a rate limit and a spend budget hold
across both, and a new budget reaches both at once."""
from __future__ import annotations

import os
import time

import httpx
import pytest
from django.db import connection

from spanlens.budgets import services as budgets
from spanlens.core import services
from tests import mock_upstream as mock
from tests.procs import database_url_for, web_server

REDIS = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def two_servers(tmp_path, live_db, mock_upstream):
    if connection.vendor != "postgresql":
        pytest.skip("needs the real PostgreSQL (make test)")
    env = {
        "DATABASE_URL": database_url_for(connection.settings_dict["NAME"]),
        "REDIS_URL": REDIS,
        "OPENAI_BASE_URL": mock_upstream.url,
        "API_KEY_CACHE_TTL_S": "300",
        "ENCRYPTION_KEY": os.environ["ENCRYPTION_KEY"],
        "LOG_FLUSH_INTERVAL_MS": "20",
    }
    with web_server(tmp_path / "a", **env) as a, web_server(tmp_path / "b", **env) as b:
        yield a, b


def call(base: str, raw_key: str, user: str = "") -> httpx.Response:
    headers = {"Authorization": f"Bearer {raw_key}"}
    if user:
        headers["x-spanlens-user"] = user
    return httpx.post(f"{base}/proxy/openai/v1/chat/completions", json=CHAT, headers=headers, timeout=20)


def test_limits_hold_across_two_workers_sharing_redis(two_servers, project, org):
    a, b = two_servers
    services.add_provider_key(project, "openai", mock.OPENAI_KEY, "OpenAI prod")
    raw = services.create_api_key(project, "ci").raw_key
    # Both processes cache the key (without budgets) first.
    assert call(a, raw).status_code == 200 and call(b, raw).status_code == 200

    # Set in this process; the published change makes both reload the key with its budgets.
    if time.time() % 60 > 40:  # keep the ten calls inside one UTC minute
        time.sleep(60.5 - time.time() % 60)
    budgets.create_budget(org, scope="project", metric="rpm", limit="6", project=project)
    time.sleep(0.5)
    statuses = [call(a if i % 2 else b, raw).status_code for i in range(10)]
    # The two calls before the budget existed are not on its counter: six more go through,
    # split across both processes.
    assert statuses.count(200) == 6, statuses
    assert set(statuses) == {200, 429}
    refused = call(a, raw)
    assert refused.status_code == 429 and 1 <= int(refused.headers["retry-after"]) <= 60

    # Spend counted by one process refuses the user in the other.
    other = services.create_api_key(project, "other").raw_key
    budgets.delete_budget(project.budgets.get())
    budgets.create_budget(org, scope="user", metric="usd_day", limit="0.0005", user_id="alice")
    time.sleep(0.5)
    assert call(a, other, "alice").status_code == 200  # $0.00036: the cost settles in A's writer
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if call(a, other, "alice").status_code == 429:
            break
        time.sleep(0.05)
    response = call(b, other, "alice")
    assert response.status_code == 429, response.text
    assert "user alice" in response.json()["error"]
    assert call(b, other, "bob").status_code == 200

"""A key change made in one web process reaches the others at once (through Redis),
not after the cache TTL: two real server processes share PostgreSQL and Redis."""
from __future__ import annotations

import os
import time

import httpx
import pytest
from django.db import connection

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
        # Long enough that only the published invalidation can explain a quick refusal.
        "API_KEY_CACHE_TTL_S": "300",
        # The provider keys are encrypted by this process: the servers must decrypt them.
        "ENCRYPTION_KEY": os.environ["ENCRYPTION_KEY"],
    }
    with web_server(tmp_path / "a", **env) as a, web_server(tmp_path / "b", **env) as b:
        yield a, b


def _call(base: str, raw_key: str) -> httpx.Response:
    return httpx.post(f"{base}/proxy/openai/v1/chat/completions", json=CHAT,
                      headers={"Authorization": f"Bearer {raw_key}"}, timeout=20)


def _status_within(base: str, raw_key: str, status: int, seconds: float) -> float | None:
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        if _call(base, raw_key).status_code == status:
            return time.monotonic() - start
        time.sleep(0.05)
    return None


def test_a_key_revoked_in_one_process_is_refused_by_the_other_within_a_second(two_servers, project):
    a, b = two_servers
    services.add_provider_key(project, "openai", mock.OPENAI_KEY, "OpenAI prod")
    created = services.create_api_key(project, "ci")
    # Both processes have the key cached as valid.
    assert _call(a, created.raw_key).status_code == 200
    assert _call(b, created.raw_key).status_code == 200

    # Revoked through the services, as the settings page does in process A; here the
    # test process plays A's part (it commits to the same database and publishes).
    services.revoke_api_key(created.api_key)

    took = _status_within(b, created.raw_key, 401, seconds=1.0)
    assert took is not None, "process B still accepted the revoked key after 1 s"
    assert _call(a, created.raw_key).status_code == 401


def test_a_rotated_provider_key_is_used_by_the_other_process_at_once(two_servers, project):
    a, b = two_servers
    key = services.add_provider_key(project, "openai", "sk-wrong-key-the-mock-refuses", "OpenAI prod")
    created = services.create_api_key(project, "ci")
    assert _call(b, created.raw_key).status_code == 401  # upstream refuses the wrong provider key

    services.rotate_provider_key(key, mock.OPENAI_KEY)

    assert _status_within(b, created.raw_key, 200, seconds=1.0) is not None

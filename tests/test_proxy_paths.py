"""Proxy paths that could climb out of the provider's API are refused before anything is forwarded."""
from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import pytest

CLIMBING = [
    "/proxy/openai/../../admin/",
    "/proxy/openai/v1/../../admin/",
    "/proxy/openai/v1/./chat/completions",
    "/proxy/openai/v1/chat/completions/..",
    "/proxy/openai/v1/%2e%2e/%2E%2E/admin",
    "/proxy/openai/v1/.%2e/admin",
    "/proxy/openai/v1%2f..%2f..%2fadmin",
    "/proxy/openai/v1%2F%2E%2E%2Fadmin",
    "/proxy/openai/v1/%252e%252e/admin",
    "/proxy/openai/v1/..%5cadmin",
    "/proxy/openai/v1/..\\admin",
    "/proxy/anthropic/v1/../../admin",
    "/proxy/gemini/v1beta/models/../../../admin?key=x",
    "/proxy/azure/openai/deployments/../../../admin",
]


def raw_post(server_url: str, path: str, key: str) -> tuple[int, dict]:
    """http.client sends the path byte for byte (HTTP libraries would normalise the dots away)."""
    url = urlsplit(server_url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    body = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]})
    conn.request("POST", path, body=body, headers={
        "Authorization": f"Bearer {key}", "x-api-key": key, "Content-Type": "application/json"})
    response = conn.getresponse()
    payload = json.loads(response.read())
    conn.close()
    return response.status, payload


@pytest.mark.parametrize("path", CLIMBING)
def test_dot_segments_are_a_400_and_never_reach_the_provider(
    live_db, upstream, provider_keys, spanlens_server, sl_key, org, read_rows, path
):
    status, payload = raw_post(spanlens_server.url, path, sl_key)
    assert status == 400
    assert payload["success"] is False and ".." in payload["error"]
    assert upstream.requests == []
    assert read_rows(org.id, settle=0.05) == []


def test_dots_inside_a_segment_are_fine(live_db, upstream, provider_keys, spanlens_server, sl_key):
    status, payload = raw_post(spanlens_server.url, "/proxy/openai/v1/chat/completions", sl_key)
    assert status == 200 and payload["object"] == "chat.completion"
    assert upstream.last().path == "/v1/chat/completions"


def _climbs(path: str, raw: bytes) -> bool:
    """The rule in full: a dot segment, a backslash, or an encoded dot, slash or backslash."""
    encoded = ("%2e", "%2f", "%5c")
    return ("\\" in path or any(c in path.lower() for c in encoded) or any(c.encode() in raw.lower() for c in encoded)
            or any(segment in (".", "..") for segment in path.split("/")))


def test_the_quick_check_agrees_with_the_full_rule():
    from hypothesis import given, settings, strategies as st
    from urllib.parse import unquote

    from proxy.paths import is_safe

    parts = st.sampled_from(["/", ".", "..", "%", "%2e", "%2E", "%2f", "%5c", "%25", "\\", "v1", "a.b", "x"])

    @settings(max_examples=400, deadline=None)
    @given(st.lists(parts, max_size=10))
    def check(pieces):
        raw = ("/proxy/openai/" + "".join(pieces)).encode()
        path = unquote(raw.decode())
        assert is_safe({"path": path, "raw_path": raw}) is not _climbs(path, raw)

    check()

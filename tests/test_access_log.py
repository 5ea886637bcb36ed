"""One access line per HTTP request: method, path, status and milliseconds, never the query string.

The proxy's calls are logged by the proxy itself (they skip the wrapper the dashboard's
requests pass through), so both routes are checked here."""
from __future__ import annotations

import logging
import re
import time

import httpx

LINE = re.compile(r"^(?P<method>[A-Z]+) (?P<path>\S+) (?P<status>\d{3}) (?P<ms>\d+\.\d)ms$")


def _lines(caplog) -> list[dict]:
    return [LINE.match(r.getMessage()).groupdict() for r in caplog.records if r.name == "spanlens.access"]


def _wait_for_lines(caplog, count: int) -> list[dict]:
    # The line is written after the last byte went out, so the client can hold its answer
    # a moment before the server's thread logs it: wait for the lines, not for a time.
    deadline = time.monotonic() + 5
    while len(lines := _lines(caplog)) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    return lines


def test_proxied_calls_and_pages_each_get_one_line(live_db, spanlens_server, upstream, provider_keys,
                                                   openai_client, sl_key, caplog):
    caplog.set_level(logging.INFO, logger="spanlens.access")

    openai_client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    stream = openai_client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], stream=True)
    assert [c for c in stream]
    refused = httpx.post(f"{spanlens_server.url}/proxy/cohere/v1/chat?key=secret-in-query",
                         headers={"authorization": f"Bearer {sl_key}"}, json={})
    climbing = httpx.post(f"{spanlens_server.url}/proxy/openai/v1/%2e%2e/admin",
                          headers={"authorization": f"Bearer {sl_key}"}, json={})
    page = httpx.get(f"{spanlens_server.url}/login/")

    assert (refused.status_code, climbing.status_code, page.status_code) == (404, 400, 200)
    lines = _wait_for_lines(caplog, 5)
    seen = [(line["method"], line["path"], line["status"]) for line in lines]
    assert seen == [
        ("POST", "/proxy/openai/v1/chat/completions", "200"),
        ("POST", "/proxy/openai/v1/chat/completions", "200"),
        ("POST", "/proxy/cohere/v1/chat", "404"),
        ("POST", "/proxy/openai/v1/../admin", "400"),
        ("GET", "/login/", "200"),
    ]
    assert all(float(line["ms"]) >= 0 for line in lines)
    assert not any("secret-in-query" in r.getMessage() for r in caplog.records)

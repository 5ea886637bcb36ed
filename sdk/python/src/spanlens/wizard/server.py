"""What `spanlens init` and `spanlens test` ask the Spanlens server."""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import httpx

TIMEOUT = httpx.Timeout(30.0, connect=5.0)


class SetupError(Exception):
    """The server is unreachable or refused the key; the message says what to do."""


@dataclass(frozen=True)
class KeyCheck:
    can_send_traces: bool
    note: str = ""


def check_key(base_url: str, api_key: str) -> KeyCheck:
    """The key is live on this server; an empty ingest batch costs nothing and needs the key."""
    if not api_key.startswith("sl_"):
        raise SetupError("that is not a Spanlens key: they start with sl_live_ (Settings → API keys)")
    try:
        httpx.get(f"{base_url}/health", timeout=TIMEOUT).raise_for_status()
    except httpx.HTTPError as exc:
        raise SetupError(f"no Spanlens server answers at {base_url} ({exc}); check --server-url") from None
    response = httpx.post(f"{base_url}/api/v1/ingest", json={"traces": [], "spans": []},
                          headers={"Authorization": f"Bearer {api_key}"}, timeout=TIMEOUT)
    message = _error_of(response)
    if response.status_code == 401:
        raise SetupError(f"the server refused the key: {message}")
    if response.status_code == 403:
        return KeyCheck(False, f"the key works, but {message}")
    if response.status_code >= 400:
        raise SetupError(f"the server answered {response.status_code}: {message}")
    return KeyCheck(True)


@dataclass(frozen=True)
class TestCall:
    status: int
    link: str
    request_id: str | None
    reply: str


# One short, cheap call per provider, in the provider's own API shape.
_CALLS = {
    "openai": ("/proxy/openai/v1/chat/completions", "gpt-4o-mini",
               lambda model: {"model": model, "max_tokens": 16,
                              "messages": [{"role": "user", "content": "Say hello from Spanlens."}]}),
    "anthropic": ("/proxy/anthropic/v1/messages", "claude-3-5-haiku-latest",
                  lambda model: {"model": model, "max_tokens": 16,
                                 "messages": [{"role": "user", "content": "Say hello from Spanlens."}]}),
}
PROVIDERS = tuple(_CALLS)


def send_test_call(base_url: str, api_key: str, *, provider: str = "openai", model: str | None = None,
                   wait: float = 15.0) -> TestCall:
    """One call through the proxy, tagged with a fresh session so its row can be found."""
    path, default_model, body = _CALLS[provider]
    session = f"spanlens-test-{uuid.uuid4().hex[:12]}"
    headers = {"x-spanlens-session": session, "Authorization": f"Bearer {api_key}"}
    if provider == "anthropic":
        headers.update({"x-api-key": api_key, "anthropic-version": "2023-06-01"})
        del headers["Authorization"]
    try:
        response = httpx.post(f"{base_url}{path}", json=body(model or default_model), headers=headers,
                              timeout=TIMEOUT)
    except httpx.HTTPError as exc:
        raise SetupError(f"the call did not reach {base_url} ({exc})") from None
    request_id = _find_row(base_url, api_key, session, wait)
    link = f"{base_url}/requests/{request_id}/" if request_id else f"{base_url}/requests/?sessionId={session}"
    return TestCall(response.status_code, link, request_id, _reply(response))


def _find_row(base_url: str, api_key: str, session: str, wait: float) -> str | None:
    """The logged row's id; rows are written just after the response, so wait a little."""
    deadline = time.monotonic() + wait
    while True:
        try:
            response = httpx.get(f"{base_url}/api/v1/requests", params={"sessionId": session, "limit": 1},
                                 headers={"Authorization": f"Bearer {api_key}"}, timeout=TIMEOUT)
        except httpx.HTTPError:
            return None
        if response.status_code != 200:  # e.g. a key without the read scope: link to the filtered list
            return None
        rows = response.json().get("data") or []
        if rows:
            return str(rows[0]["id"])
        if time.monotonic() > deadline:
            return None
        time.sleep(0.3)


def _reply(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if response.status_code >= 400:
        return str(body.get("error") or body)[:300] if isinstance(body, dict) else str(body)[:300]
    if isinstance(body.get("choices"), list) and body["choices"]:
        return str((body["choices"][0].get("message") or {}).get("content") or "")
    if isinstance(body.get("content"), list) and body["content"]:
        return str(body["content"][0].get("text") or "")
    return ""


def _error_of(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or f"HTTP {response.status_code}"
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            return str(error.get("message") or error)
        if error:
            return str(error)
    return f"HTTP {response.status_code}"

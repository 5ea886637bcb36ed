"""The proxy: a plain ASGI app. /proxy/<provider>/<path> and /health.

Hot path rules: nothing per request that can be cached (keys, prices, the HTTP
client), bodies pass through as bytes, and logging work happens after the
response is sent, in the writer thread.
"""
from __future__ import annotations

import asyncio
import dataclasses
import functools
import time

from urllib.parse import parse_qsl

import aiohttp
import orjson
from django.conf import settings

from proxy import auth, cache, limits, paths, security, upstream
from proxy.deadlines import Deadline
from proxy.logentry import PendingLog
from proxy.providers import ADAPTERS
from proxy.sse import event_data, split_events
from spanlens.core import accesslog
from spanlens.security import policy
from spanlens.metrics.registry import observe_call
from spanlens.requestlog.ids import new_request_id
from spanlens.requestlog.writer import get_writer

VERSION = "0.1.0"
_HOP_BY_HOP = frozenset({
    b"connection", b"keep-alive", b"proxy-authenticate", b"proxy-authorization", b"te", b"trailer",
    b"trailers", b"transfer-encoding", b"upgrade", b"host", b"content-length", b"accept-encoding",
})
# Where any SDK may have put the Spanlens key: never forwarded upstream.
_CREDENTIALS = frozenset({b"authorization", b"x-api-key", b"api-key", b"x-goog-api-key"})
_RESPONSE_DROP = frozenset({b"connection", b"keep-alive", b"transfer-encoding", b"content-length"})
_LOG_BODY_MODES = ("full", "meta", "none")
_SAMPLE_MODES = ("keep", "drop", "errors")
_META_HEADERS = {
    b"x-spanlens-user": "user_id",
    b"x-spanlens-session": "session_id",
    b"x-spanlens-prompt-version": "prompt_version_id",
    b"x-spanlens-log-body": "log_body",
    b"x-spanlens-project": "project",
    b"x-spanlens-trace-id": "trace_id",
    b"x-spanlens-span-id": "span_id",
    b"x-spanlens-sample": "sample",
    b"x-spanlens-sample-rate": "sample_rate",
    b"x-spanlens-cache": "cache",
    b"x-spanlens-cache-ttl": "cache_ttl",
}
_JSON = [(b"content-type", b"application/json")]


async def proxy_app(scope, receive, send):
    kind = scope["type"]
    if kind == "http":
        if scope["path"] == "/health":
            await _json(send, 200, {"status": "ok", "version": VERSION})
        else:
            await proxy_call(scope, receive, send, log_line=False)
    elif kind == "lifespan":
        await _lifespan(receive, send)


async def proxy_call(scope, receive, send, *, log_line: bool = True) -> None:
    """One /proxy/ call, access line included. The ASGI entry calls this directly: each
    wrapper between the server and the proxy is a coroutine frame that every resume
    and suspend passes through, and one wrapping `send` is another call per message."""
    started = time.perf_counter()
    try:
        if not paths.is_safe(scope):
            status = await _error(send, 400, "The path must not contain . or .. segments or encoded dots, "
                                             "slashes or backslashes.")
        else:
            status = await handle(scope, receive, send, started)
    except BaseException:
        if log_line:
            accesslog.line(scope, 500, started)
        raise
    if log_line:
        accesslog.line(scope, status, started)


async def _lifespan(receive, send):
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await upstream.close()
            await asyncio.get_running_loop().run_in_executor(None, get_writer().flush)
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _json(send, status: int, payload: dict, headers=()) -> int:
    body = orjson.dumps(payload)
    await send({"type": "http.response.start", "status": status, "headers": [*_JSON, *headers] if headers else _JSON})
    await send({"type": "http.response.body", "body": body})
    return status


async def _error(send, status: int, message: str, headers=()) -> int:
    return await _json(send, status, {"success": False, "error": message}, headers)


async def _read_body(receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def handle(scope, receive, send, started: float | None = None) -> int:
    """Answer one proxied call; returns the status sent."""
    started = started or time.perf_counter()
    created_at = time.time()
    _, _, provider, rest = (scope["path"].split("/", 3) + ["", ""])[:4]
    adapter = ADAPTERS.get(provider)
    if adapter is None:
        return await _error(send, 404, f"Unknown provider {provider!r}: use one of {', '.join(ADAPTERS)}.")

    meta: dict[str, str] = {}
    forward: list[tuple[str, str]] = []
    for name, value in scope["headers"]:
        if name.startswith(b"x-spanlens-"):
            field = _META_HEADERS.get(name)
            if field:
                meta[field] = value.decode("latin-1").strip()
        elif name not in _HOP_BY_HOP and name not in _CREDENTIALS:
            forward.append((name.decode("latin-1"), value.decode("latin-1")))
    headers = dict(scope["headers"])
    if meta.get("log_body", "full") not in _LOG_BODY_MODES:
        return await _error(send, 400, "x-spanlens-log-body must be one of full, meta, none.")
    sample = meta.get("sample", "keep")
    if sample not in _SAMPLE_MODES:
        return await _error(send, 400, "x-spanlens-sample must be one of keep, drop, errors.")

    query = dict(parse_qsl(scope["query_string"].decode("latin-1"))) if provider == "gemini" else {}
    try:
        tenant = await auth.resolve(adapter.client_key(headers, query), meta.get("project"), client=scope.get("client"))
    except auth.AuthError as exc:
        return await _error(send, exc.status, exc.message)
    key = tenant.provider_keys.get(provider)
    if key is None:
        # The key may have been added a moment ago (maybe by another process): look again.
        tenant = await auth.resolve(
            adapter.client_key(headers, query), meta.get("project"), refresh=True, client=scope.get("client")
        )
        key = tenant.provider_keys.get(provider)
    if key is None:
        return await _error(
            send, 400,
            f"This project has no {provider} provider key. Add one in Settings → Provider keys "
            f"or run: python manage.py add_provider_key {provider} <your {provider} key>",
        )

    body = await _read_body(receive)
    parsed = None
    if body[:1] == b"{":
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError:
            parsed = None
    prepared = adapter.prepare(rest, body, parsed)
    try:
        cached_request = cache.request_for(meta, project_id=tenant.project_id, provider=provider,
                                           method=scope["method"], path=rest,
                                           query_string=scope["query_string"], body=body, parsed=parsed,
                                           project_ttl_s=tenant.cache_ttl_s)
    except cache.CacheRequestError as exc:
        return await _error(send, 400, str(exc))
    hit = await cache.lookup(cached_request) if cached_request else None
    entry = (cache.CacheHitLog if hit else PendingLog)(
        created_at=created_at, tenant=tenant, provider=provider, endpoint=rest, method=scope["method"], meta=meta)
    entry.provider_key_id = key.id
    entry.price_free = key.price_free
    entry.model = prepared.model
    entry.request_body = prepared.body
    # The project's policy first: a call it blocks is never answered, not even from the cache.
    if tenant.security_policy is not None:
        prepared = await _apply_policy(send, entry, prepared, tenant, started, sample)
        if prepared is None:
            return entry.status_code
    if hit:
        await cache.serve(send, hit, entry, adapter, prepared)
        now = time.perf_counter()
        _finish(entry, started, now, now, sample)
        return entry.status_code
    # Budgets and rate limits: checked for calls that would reach the provider (a cache hit is free).
    if tenant.limits and (refused := await limits.refusal(tenant, entry, prepared, parsed)):
        return await _fail(send, entry, started, time.perf_counter(), 429, refused.message, sample, limits.headers(refused))
    base = settings.UPSTREAM_BASE_URLS.get(provider)
    url = adapter.upstream_url(base, rest, scope["query_string"], key)
    if not url:
        return await _error(send, 400, f"The {provider} provider key has no base URL: set one in Settings → Provider keys.")
    forward.extend((k.decode(), v.decode()) for k, v in adapter.auth_headers(key))
    forward.extend((k.decode("latin-1"), v.decode("latin-1")) for k, v in key.headers)
    forward.append(("accept-encoding", "identity"))

    upstream_started = time.perf_counter()
    try:
        async with Deadline(settings.UPSTREAM_HEADERS_TIMEOUT_S if not prepared.stream else settings.STREAM_DEADLINE_S):
            response = await upstream.session().request(
                scope["method"], url, data=prepared.body or None, headers=forward, allow_redirects=False
            )
    except TimeoutError:
        return await _fail(send, entry, started, upstream_started, 504,
                    f"{provider} did not answer within {settings.UPSTREAM_HEADERS_TIMEOUT_S:g} s.", sample)
    except (aiohttp.ClientError, OSError) as exc:
        return await _fail(send, entry, started, upstream_started, 502,
                    f"Could not reach {provider}: {exc.__class__.__name__}: {exc}", sample)

    entry.status_code = response.status
    out_headers = [(k.lower(), v) for k, v in response.raw_headers if k.lower() not in _RESPONSE_DROP]
    if cached_request:
        out_headers.append(cache.MISS)
    is_stream = prepared.stream or response.content_type == "text/event-stream"

    def finish(upstream_done: float) -> None:
        # Called before the response's last bytes leave: a client that has its whole
        # response has a row in the spool, whenever the server is killed after that.
        if cached_request:
            cache.remember(cached_request, entry, out_headers)
        _finish(entry, started, upstream_started, upstream_done, sample)

    try:
        if is_stream:
            entry.stream = True
            await _stream(scope, receive, send, response, out_headers, entry, adapter, prepared, finish)
        else:
            try:
                async with Deadline(settings.STREAM_DEADLINE_S):
                    data = await response.read()
            except (TimeoutError, aiohttp.ClientError) as exc:
                return await _fail(send, entry, started, upstream_started, 502,
                            f"{provider} broke off its response: {exc.__class__.__name__}", sample)
            entry.response_raw = data
            out_headers.append((b"content-length", str(len(data)).encode()))
            finish(time.perf_counter())
            await send({"type": "http.response.start", "status": response.status, "headers": out_headers})
            await send({"type": "http.response.body", "body": data})
    finally:
        response.release()
    return response.status


async def _stream(scope, receive, send, response, out_headers, entry, adapter, prepared, finish) -> None:
    """Pass chunks through as they arrive, keep a copy for the log, honour the deadline
    and notice a client that goes away; finish(when upstream finished) before the stream's end."""
    await send({"type": "http.response.start", "status": response.status, "headers": out_headers})
    captured: list[bytes] = []
    drop_usage = prepared.injected_stream_usage and hasattr(adapter, "is_usage_only_chunk")
    pending = b""
    task = asyncio.current_task()
    gone = False
    watcher = None

    async def watch_disconnect():
        nonlocal gone
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                gone = True
                task.cancel()
                return

    def start_watching():
        # From the deadline's first sweep: a stream over before then needs no watcher.
        nonlocal watcher
        watcher = asyncio.ensure_future(watch_disconnect())

    ended_by_us = True  # whether the response's terminating chunk is still ours to send
    try:
        async with Deadline(settings.STREAM_DEADLINE_S, on_sweep=start_watching):
            async for chunk in response.content.iter_any():
                captured.append(chunk)
                if drop_usage:
                    events, pending = split_events(pending + chunk)
                    out = b"".join(
                        e + b"\n\n" for e in events if not adapter.is_usage_only_chunk(event_data(e) or b"")
                    )
                    if not out:
                        continue
                    chunk = out
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        if pending:
            await send({"type": "http.response.body", "body": pending, "more_body": True})
        done = time.perf_counter()
    except TimeoutError:
        # The deadline cut the stream: keep what came, and say so on the row.
        done = time.perf_counter()
        entry.truncated = True
        entry.error_message = f"Stream cut at the {settings.STREAM_DEADLINE_S:g} s deadline."
    except asyncio.CancelledError:
        if not gone:
            raise
        done = time.perf_counter()
        # Clients (the openai SDK among them) hang up right after the terminal event,
        # while upstream may still be closing: the writer decides if anything was cut.
        entry.client_gone = True
        ended_by_us = False
    except aiohttp.ClientError as exc:
        done = time.perf_counter()
        entry.error_message = f"Upstream stream broke: {exc.__class__.__name__}"
    finally:
        if watcher is not None:
            watcher.cancel()
    entry.response_raw = b"".join(captured)
    finish(done)
    if ended_by_us:
        await send({"type": "http.response.body", "body": b""})


async def _apply_policy(send, entry, prepared, tenant, started, sample):
    """Block or redact before forwarding (projects whose policy is not log-only); None when blocked."""
    block_injection, redact_pii = tenant.security_policy
    enforce = functools.partial(policy.enforce, prepared.body, block_injection=block_injection,
                                redact_pii=redact_pii)
    # A large body takes a while to redact: off the loop, so other calls interleave.
    big = len(prepared.body) > security.SCAN_WINDOW
    verdict = await asyncio.get_running_loop().run_in_executor(None, enforce) if big else enforce()
    if verdict.findings:
        entry.id = new_request_id(entry.created_at)  # the audit entry names the logged call
    if verdict.blocked:
        _audit_enforcement(tenant, entry, "block", verdict.findings)
        await _fail(send, entry, started, time.perf_counter(), 422, verdict.message, sample)
        return None
    if verdict.body is not None:
        # The provider gets the placeholders, and the log stores what the provider got.
        prepared = dataclasses.replace(prepared, body=verdict.body)
        entry.request_body = verdict.body
        entry.redacted = verdict.findings
        _audit_enforcement(tenant, entry, "redact", verdict.findings)
    return prepared


_audit_tasks: set = set()


def _audit_enforcement(tenant, entry, action: str, findings: list[dict]) -> None:
    from asgiref.sync import sync_to_async

    from spanlens.security.services import record_enforcement

    task = asyncio.ensure_future(sync_to_async(_record_and_close, thread_sensitive=False)(
        record_enforcement, tenant.organization_id, tenant.project_id,
        action=action, request_id=entry.id, findings=findings))
    _audit_tasks.add(task)
    task.add_done_callback(_audit_tasks.discard)


def _record_and_close(fn, *args, **kwargs) -> None:
    from django.db import connections

    try:
        fn(*args, **kwargs)
    finally:
        connections.close_all()


async def _fail(send, entry, started, upstream_started, status, message, sample, headers=()) -> int:
    entry.status_code = status
    entry.error_message = message
    await _error(send, status, message, headers)
    _finish(entry, started, upstream_started, time.perf_counter(), sample)
    return status


def _finish(entry, started, upstream_started, upstream_done, sample) -> None:
    ended = time.perf_counter()
    total_ms = (ended - started) * 1000
    upstream_ms = (upstream_done - upstream_started) * 1000
    entry.latency_ms = int(round(total_ms))
    entry.proxy_overhead_ms = int(round(max(total_ms - upstream_ms, 0)))
    observe_call(entry.provider, entry.status_code, total_ms - upstream_ms)
    if sample == "drop" or (sample == "errors" and entry.status_code < 400):
        if entry.budget_hold is not None:
            limits.settle_unlogged(entry)
        return
    get_writer().enqueue(entry)

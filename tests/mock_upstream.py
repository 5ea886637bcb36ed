"""A fake OpenAI / Anthropic / Gemini / Azure OpenAI on 127.0.0.1, for proxy tests.

It speaks each provider's real wire format (JSON bodies, SSE event shapes, usage
fields, error envelopes), checks the provider key the way the provider does, and
records every request it receives so tests can assert what the proxy forwarded.

Routes
  OpenAI     POST /v1/chat/completions, POST /v1/responses, POST /v1/embeddings,
             POST /v1/audio/transcriptions (multipart), GET /v1/models
             (Authorization: Bearer <OPENAI_KEY>)
  Anthropic  POST /v1/messages (x-api-key or Bearer <ANTHROPIC_KEY>; anthropic-version required)
  Gemini     POST /v1beta/models/{model}:generateContent, :streamGenerateContent[?alt=sse]
             (x-goog-api-key header or ?key=<GEMINI_KEY>)
  Azure      POST /openai/deployments/{deployment}/chat/completions|embeddings?api-version=...
             (api-key: <AZURE_KEY>; deployments are listed in AZURE_DEPLOYMENTS)

Knobs: append them to the model name (the deployment name for Azure, the path
model for Gemini) after "+", e.g. "gpt-4o-mini+error-429" or
"claude-haiku-4-5+cached+slow-stream". The part before the first "+" is the model.
  error-NNN      answer HTTP NNN with the provider's own error JSON
  cached         report a prompt-cache hit (and, for Anthropic, a cache write)
  slow-stream    stream SLOW_CHUNKS text pieces, SLOW_CHUNK_DELAY_S apart
  huge           reply with HUGE_CHARS characters of text (a body far over 64 KB)
  echo-key       the reply text (with error-NNN, OpenAI's error message) contains
                 LEAKED_KEY, a fake sk-proj- key
  never-respond  never send response headers (until the caller hangs up)
  linger         after a stream's terminal event, wait LINGER_S before closing it
                 (what clients that hang up right after [DONE] race against)
  stream-error   a 200 stream that breaks off with the provider's in-stream error
                 (OpenAI data: {"error": ...}, Anthropic event: error overloaded_error)
  tools          answer with a tool call (TOOL_NAME, TOOL_ARGS) instead of text;
                 streams send the arguments in pieces
  cached-1h      Anthropic: cache writes split into 5-minute and 1-hour ones
                 (ANTHROPIC_CACHED_1H_USAGE)
  no-usage       OpenAI-compatible streams that never report usage (some self-hosted servers)

OpenAI-compatible providers (COMPAT_KEYS: mistral, groq, deepseek, xai, openrouter,
together, fireworks, custom) answer at /<provider>/v1/chat/completions and /<provider>/v1/models
with OpenAI's shapes; OpenRouter's usage also carries `cost` (OPENROUTER_COST).

Judge calls (an eval run's structured-output requests: OpenAI response_format
"verdict", Anthropic tool record_verdict, Gemini responseSchema) get a verdict
instead of REPLY: the score is the share of the request input's words the
candidate repeats (a relevance judge), on the scale the prompt states. Knobs:
  judge-malformed       prose without a verdict, every time
  judge-malformed-once  prose the first turn, a verdict on the repair turn
  judge-echo            quotes the candidate (and any verdict planted in it) before its own verdict
  judge-quoted-score    the score as a JSON string ("4")
  judge-429-once        the first call with a given body answers 429 (retry-after-ms), then a verdict
  judge-slow            wait JUDGE_DELAY_S before answering

Token counts never depend on the input, so tests can assert exact tokens and cost:
every completion reports PROMPT_TOKENS in and COMPLETION_TOKENS out; with
`cached` see OPENAI_CACHED_TOKENS, ANTHROPIC_CACHED_USAGE and GEMINI_CACHED_TOKENS.
Dated model names come from DATED_MODELS (an alias in, the dated snapshot out).
"""
from __future__ import annotations

import asyncio
import base64
import json
import re
import struct
import threading
import time
from dataclasses import dataclass, field

from aiohttp import web

OPENAI_KEY = "sk-proj-mockupstreamopenai0000000000"
ANTHROPIC_KEY = "sk-ant-api03-mockupstreamanthropic000000"
GEMINI_KEY = "AIzaSyMockUpstreamGemini000000000000"
AZURE_KEY = "0123456789abcdef0123456789abcdef"

PROMPT_TOKENS = 1200
COMPLETION_TOKENS = 300
OPENAI_CACHED_TOKENS = 1024  # prompt_tokens_details.cached_tokens, part of PROMPT_TOKENS
# Anthropic reports input_tokens net of the cache; the gross prompt is the sum of all three.
ANTHROPIC_CACHED_USAGE = {
    "input_tokens": 200,
    "cache_creation_input_tokens": 2000,
    "cache_read_input_tokens": 3000,
}
ANTHROPIC_CACHED_1H_USAGE = {
    "input_tokens": 200,
    "cache_creation_input_tokens": 3000,
    "cache_read_input_tokens": 1000,
    "cache_creation": {"ephemeral_5m_input_tokens": 1000, "ephemeral_1h_input_tokens": 2000},
}
GEMINI_CACHED_TOKENS = 1000  # cachedContentTokenCount, part of promptTokenCount
EMBEDDING_TOKENS = 1000
EMBEDDING_DIMENSIONS = 8

REPLY = "Hello from the mock upstream. The sky is blue because air scatters short wavelengths."
SLOW_CHUNKS = 20
SLOW_CHUNK_DELAY_S = 0.25
HUGE_CHARS = 100_000
LEAKED_KEY = "sk-proj-LeakedFromToolOutput0123456789"
ECHO_REPLY = f"The config file says OPENAI_API_KEY={LEAKED_KEY} so use that."

DATED_MODELS = {
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
    "gpt-4o": "gpt-4o-2024-08-06",
    "gpt-4.1-mini": "gpt-4.1-mini-2025-04-14",
    "gpt-5-mini": "gpt-5-mini-2025-08-07",
    "claude-haiku-4-5": "claude-haiku-4-5-20251001",
    "claude-sonnet-4-5": "claude-sonnet-4-5-20250929",
}
# Azure deployment name -> the model it hosts.
AZURE_DEPLOYMENTS = {
    "prod-chat": "gpt-4o-mini",
    "prod-embed": "text-embedding-3-small",
}
CREATED = 1_763_900_000
LINGER_S = 0.5
TOOL_NAME = "get_weather"
TOOL_ARGS = {"city": "Paris", "unit": "celsius", "days": [1, 2]}
TOOL_CALL_ID = "call_mock0001"
STREAM_ERROR_OPENAI = {"message": "The server had an error while processing your request. Sorry about that!",
                       "type": "server_error", "param": None, "code": None}
STREAM_ERROR_ANTHROPIC = {"type": "overloaded_error", "message": "Overloaded"}
COMPAT_KEYS = {p: f"mock-{p}-key-0123456789abcdef" for p in (
    "mistral", "groq", "deepseek", "xai", "openrouter", "together", "fireworks", "custom")}
OPENROUTER_COST = 0.0123


def tool_args_pieces() -> list[str]:
    text = json.dumps(TOOL_ARGS)
    return [text[i:i + 7] for i in range(0, len(text), 7)]
JUDGE_DELAY_S = 0.4
SLOW_REPLY_S = 0.4  # knob slow: a non-streamed chat answer takes this long
JUDGE_RETRY_AFTER_MS = 50
MALFORMED_VERDICT = "I think this answer is pretty good overall, nice work!"
STOPWORDS = {"please", "help", "with", "user", "system", "assistant", "what", "that", "this", "your", "from",
             "about", "have", "there", "which", "terse", "tell", "the", "why", "and", "for", "are", "was",
             "you", "how", "its", "can", "not"}


def split_model(name: str) -> tuple[str, set[str]]:
    base, *knobs = name.split("+")
    return base, set(knobs)


def dated(model: str) -> str:
    return DATED_MODELS.get(model, model)


def error_status(knobs: set[str]) -> int | None:
    for knob in knobs:
        match = re.fullmatch(r"error-(\d{3})", knob)
        if match:
            return int(match.group(1))
    return None


def reply_pieces(knobs: set[str]) -> list[str]:
    """The reply text as the stream sends it; joined it is the non-streaming reply."""
    if "slow-stream" in knobs:
        return [f"tick{i:02d} " for i in range(SLOW_CHUNKS)]
    if "huge" in knobs:
        return ["x" * 1000] * (HUGE_CHARS // 1000)
    text = ECHO_REPLY if "echo-key" in knobs else REPLY
    return re.findall(r"\S+\s*", text)


def reply_text(knobs: set[str]) -> str:
    return "".join(reply_pieces(knobs))


@dataclass
class Recorded:
    """One request as the mock received it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes
    # Set when the caller hung up before the response was complete.
    aborted: bool = False
    completed: bool = False
    received_at: float = field(default_factory=time.monotonic)
    finished_at: float | None = None

    @property
    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None


class MockUpstream:
    def __init__(self):
        self.keys: dict[str, set[str]] = {
            "openai": {OPENAI_KEY},
            "anthropic": {ANTHROPIC_KEY},
            "gemini": {GEMINI_KEY},
            "azure": {AZURE_KEY},
            **{p: {k} for p, k in COMPAT_KEYS.items()},
        }
        self.requests: list[Recorded] = []
        self._judge_seen: set[str] = set()
        self.judge_delay_s = 0.0  # added to every judge answer (progress bars, kill tests)
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True, name="mock-upstream")
        self._runner: web.AppRunner | None = None

    # --- lifecycle -----------------------------------------------------------

    def start(self) -> "MockUpstream":
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    async def _start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        # Cancel a handler when its caller hangs up, as a real server stops work.
        self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    # --- what tests read -----------------------------------------------------

    def clear(self) -> None:
        self.requests.clear()
        self._judge_seen.clear()
        self.judge_delay_s = 0.0

    def count(self, predicate=None) -> int:
        """How many requests arrived (that match predicate(Recorded))."""
        return sum(1 for r in list(self.requests) if predicate is None or predicate(r))

    def judge_calls(self, *, completed_only: bool = True) -> list[Recorded]:
        """The judge calls received (by default only those answered in full)."""
        return [r for r in list(self.requests)
                if is_judge_payload(r.json) and (r.completed or not completed_only) and not r.aborted]

    def last(self) -> Recorded:
        assert self.requests, "the mock upstream received no request"
        return self.requests[-1]

    def wait_for(self, predicate, timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.02)
        return predicate()

    # --- dispatch ------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        rec = Recorded(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
        )
        self.requests.append(rec)
        try:
            response = await self._route(request, rec)
            rec.completed = True
            rec.finished_at = time.monotonic()
            return response
        except (asyncio.CancelledError, ConnectionResetError):
            rec.aborted = True
            raise

    async def _route(self, request: web.Request, rec: Recorded) -> web.StreamResponse:
        path, method = request.path, request.method
        if path == "/v1/chat/completions" and method == "POST":
            return await self._openai(request, rec, "chat")
        if path == "/v1/responses" and method == "POST":
            return await self._openai(request, rec, "responses")
        if path == "/v1/embeddings" and method == "POST":
            return await self._openai(request, rec, "embeddings")
        if path == "/v1/audio/transcriptions" and method == "POST":
            if (denied := self._openai_auth(rec)) is not None:
                return denied
            if not request.content_type.startswith("multipart/form-data"):
                return _json(400, _openai_error("Expected multipart/form-data.", "invalid_request_error", None))
            return _json(200, {"text": REPLY})
        if path == "/v1/models" and method == "GET":
            if (denied := self._openai_auth(rec)) is not None:
                return denied
            return _json(200, {
                "object": "list",
                "data": [
                    {"id": m, "object": "model", "created": CREATED, "owned_by": "system"}
                    for m in ("gpt-4o-mini", "gpt-4o", "text-embedding-3-small")
                ],
            })
        if path == "/v1/messages" and method == "POST":
            return await self._anthropic(request, rec)
        gemini = re.fullmatch(r"/(v1beta|v1)/models/([^/:]+):(generateContent|streamGenerateContent)", path)
        if gemini and method == "POST":
            return await self._gemini(request, rec, gemini.group(2), gemini.group(3))
        compat = re.fullmatch(r"/(%s)/v1/(chat/completions|embeddings|models)" % "|".join(COMPAT_KEYS), path)
        if compat:
            return await self._compat(request, rec, compat.group(1), compat.group(2))
        azure = re.fullmatch(r"/openai/deployments/([^/]+)/(chat/completions|embeddings)", path)
        if azure and method == "POST":
            return await self._azure(request, rec, azure.group(1), azure.group(2))
        return _json(404, {"error": {"message": f"Unknown request URL: {method} {path}.",
                                     "type": "invalid_request_error", "param": None, "code": "unknown_url"}})

    # --- OpenAI --------------------------------------------------------------

    def _openai_auth(self, rec: Recorded) -> web.Response | None:
        auth = rec.headers.get("authorization", "")
        if not auth.startswith("Bearer "):
            return _json(401, _openai_error(
                "You didn't provide an API key. You need to provide your API key in an Authorization "
                "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                "invalid_request_error", None))
        key = auth[len("Bearer "):]
        if key not in self.keys["openai"]:
            return _json(401, _openai_error(
                f"Incorrect API key provided: {key[:3]}*****{key[-4:]}. You can find your API key at "
                "https://platform.openai.com/account/api-keys.", "invalid_request_error", "invalid_api_key"))
        return None

    async def _openai(self, request: web.Request, rec: Recorded, kind: str) -> web.StreamResponse:
        if (denied := self._openai_auth(rec)) is not None:
            return denied
        payload = rec.json
        if not isinstance(payload, dict) or not isinstance(payload.get("model"), str):
            return _json(400, _openai_error("you must provide a model parameter", "invalid_request_error", None))
        model, knobs = split_model(payload["model"])
        return await self._openai_answer(request, payload, model, knobs, kind, azure=False)

    async def _openai_answer(self, request, payload, model, knobs, kind, *, azure: bool):
        status = error_status(knobs)
        if status is not None:
            error = _openai_error_for(status, model, azure)
            if "echo-key" in knobs:
                error["error"]["message"] += f" Key used: {LEAKED_KEY}"
            return _json(status, error)
        if "never-respond" in knobs:
            await _hang()
        if kind == "embeddings":
            return _json(200, _embeddings(payload, model))
        if kind == "chat" and is_judge_payload(payload):
            return await self._judge("openai", payload, model, knobs)
        stream = payload.get("stream") is True
        if kind == "responses":
            if stream:
                return await _sse(request, _responses_events(model, knobs), knobs)
            return _json(200, _response_object(model, knobs, status="completed"))
        if (limited := self._rate_limited_once("openai", payload, knobs)) is not None:
            return limited
        if "slow" in knobs:
            await asyncio.sleep(SLOW_REPLY_S)
        if stream:
            include_usage = bool((payload.get("stream_options") or {}).get("include_usage"))
            return await _sse(request, _chat_chunks(model, knobs, include_usage, azure), knobs)
        completion = _chat_completion(model, knobs, azure)
        if "echo-prompt" in knobs and kind == "chat":
            completion["choices"][0]["message"]["content"] = echo_reply("openai", payload)
        return _json(200, completion)

    # --- OpenAI-compatible providers -----------------------------------------

    async def _compat(self, request, rec: Recorded, provider: str, operation: str) -> web.StreamResponse:
        key = rec.headers.get("authorization", "").removeprefix("Bearer ")
        # The custom endpoint plays a self-hosted server that checks whatever key it was given.
        if key not in self.keys[provider] and not (provider == "custom" and not self.keys[provider]):
            return _json(401, _openai_error("Invalid API key", "invalid_request_error", "invalid_api_key"))
        if operation == "models":
            return _json(200, {"object": "list", "data": [{"id": "mock-model", "object": "model"}]})
        payload = rec.json
        if not isinstance(payload, dict) or not isinstance(payload.get("model"), str):
            return _json(400, _openai_error("model is required", "invalid_request_error", None))
        model, knobs = split_model(payload["model"])
        kind = "embeddings" if operation == "embeddings" else "chat"
        if provider == "openrouter":
            knobs = knobs | {"openrouter"}
        if provider == "deepseek":
            knobs = knobs | {"deepseek"}
        return await self._openai_answer(request, payload, model, knobs, kind, azure=False)

    # --- Anthropic -----------------------------------------------------------

    async def _anthropic(self, request: web.Request, rec: Recorded) -> web.StreamResponse:
        # The API takes the key as x-api-key or, as current SDKs send it, Bearer.
        key = rec.headers.get("x-api-key") or rec.headers.get("authorization", "").removeprefix("Bearer ")
        if not key or key not in self.keys["anthropic"]:
            return _json(401, _anthropic_error("authentication_error", "invalid x-api-key"))
        if not rec.headers.get("anthropic-version"):
            return _json(400, _anthropic_error("invalid_request_error", "anthropic-version: header is required"))
        payload = rec.json
        if not isinstance(payload, dict) or not isinstance(payload.get("model"), str):
            return _json(400, _anthropic_error("invalid_request_error", "model: Field required"))
        if "max_tokens" not in payload:
            return _json(400, _anthropic_error("invalid_request_error", "max_tokens: Field required"))
        model, knobs = split_model(payload["model"])
        status = error_status(knobs)
        if status is not None:
            kind = {400: "invalid_request_error", 429: "rate_limit_error", 529: "overloaded_error"}.get(
                status, "api_error")
            message = {429: "Number of request tokens has exceeded your per-minute rate limit",
                       529: "Overloaded"}.get(status, "Internal server error")
            return _json(status, _anthropic_error(kind, message))
        if "never-respond" in knobs:
            await _hang()
        if is_judge_payload(payload):
            return await self._judge("anthropic", payload, model, knobs)
        if (limited := self._rate_limited_once("anthropic", payload, knobs)) is not None:
            return limited
        if payload.get("stream") is True:
            return await _sse(request, _anthropic_events(model, knobs), knobs)
        message = _anthropic_message(model, knobs)
        if "echo-prompt" in knobs:
            message.update(content=[{"type": "text", "text": echo_reply("anthropic", payload)}], stop_reason="end_turn")
        return _json(200, message)

    # --- Gemini --------------------------------------------------------------

    async def _gemini(self, request, rec: Recorded, path_model: str, method: str) -> web.StreamResponse:
        key = rec.headers.get("x-goog-api-key") or rec.query.get("key")
        if not key:
            return _json(403, _gemini_error(
                403, "Method doesn't allow unregistered callers (callers without established identity). "
                "Please use API Key or other form of API consumer identity to call this API.",
                "PERMISSION_DENIED"))
        if key not in self.keys["gemini"]:
            return _json(400, _gemini_error(400, "API key not valid. Please pass a valid API key.",
                                            "INVALID_ARGUMENT"))
        model, knobs = split_model(path_model)
        status = error_status(knobs)
        if status is not None:
            code = {400: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED", 503: "UNAVAILABLE"}.get(status, "INTERNAL")
            message = {429: "Resource has been exhausted (e.g. check quota).",
                       503: "The model is overloaded. Please try again later."}.get(
                status, "An internal error has occurred. Please retry or report in "
                        "https://developers.generativeai.google/guide/troubleshooting")
            return _json(status, _gemini_error(status, message, code))
        if "never-respond" in knobs:
            await _hang()
        if method == "generateContent" and is_judge_payload(rec.json):
            return await self._judge("gemini", rec.json, model, knobs)
        if (limited := self._rate_limited_once("gemini", rec.json, knobs)) is not None:
            return limited
        if method == "generateContent":
            text = echo_reply("gemini", rec.json) if "echo-prompt" in knobs else reply_text(knobs)
            return _json(200, _gemini_response(model, knobs, text, final=True))
        chunks = _gemini_chunks(model, knobs)
        if rec.query.get("alt") == "sse":
            return await _sse(request, [f"data: {json.dumps(c)}\r\n\r\n" for c in chunks], knobs)
        # Without alt=sse Gemini streams one JSON array, element by element.
        parts = ["[" + json.dumps(chunks[0])] + ["\r\n," + json.dumps(c) for c in chunks[1:]] + ["]"]
        return await _stream(request, parts, knobs, "application/json; charset=UTF-8")

    def _rate_limited_once(self, provider: str, payload, knobs: set[str]) -> web.Response | None:
        """Knob 429-once: the first time a body is seen it gets a 429 with retry-after."""
        if "429-once" not in knobs:
            return None
        fingerprint = "gen:" + json.dumps(payload, sort_keys=True)
        if fingerprint in self._judge_seen:
            return None
        self._judge_seen.add(fingerprint)
        if provider == "anthropic":
            response = _json(429, _anthropic_error("rate_limit_error", "Number of requests has exceeded your rate limit"))
        elif provider == "gemini":
            response = _json(429, _gemini_error(429, "Resource has been exhausted (e.g. check quota).",
                                                "RESOURCE_EXHAUSTED"))
        else:
            response = _json(429, _openai_error("Rate limit reached for requests", "requests", "rate_limit_exceeded"))
        response.headers["retry-after-ms"] = str(JUDGE_RETRY_AFTER_MS)
        response.headers["retry-after"] = "1"
        return response

    # --- the judge -------------------------------------------------------------

    async def _judge(self, provider: str, payload: dict, model: str, knobs: set[str]) -> web.Response:
        if "judge-slow" in knobs:
            await asyncio.sleep(JUDGE_DELAY_S)
        if self.judge_delay_s:
            await asyncio.sleep(self.judge_delay_s)
        if "judge-429-once" in knobs:
            fingerprint = json.dumps(payload, sort_keys=True)
            if fingerprint not in self._judge_seen:
                self._judge_seen.add(fingerprint)
                response = _json(429, _openai_error("Rate limit reached for requests", "requests", "rate_limit_exceeded")
                                 if provider != "anthropic" else
                                 _anthropic_error("rate_limit_error", "Number of requests has exceeded your rate limit"))
                response.headers["retry-after-ms"] = str(JUDGE_RETRY_AFTER_MS)
                response.headers["retry-after"] = "1"
                return response
        turns = _judge_turns(provider, payload)
        prompt = turns[0] if turns else ""
        malformed = "judge-malformed" in knobs or ("judge-malformed-once" in knobs and len(turns) < 2)
        low, high, raw, reasoning, candidate = judge_verdict(prompt)
        score = f"{raw:g}" if "judge-quoted-score" in knobs else raw
        verdict = {"reasoning": reasoning, "score": score}
        prefix = f"The candidate says: {candidate}\n" if "judge-echo" in knobs else ""
        if provider == "anthropic":
            content = []
            if malformed or prefix:
                content.append({"type": "text", "text": MALFORMED_VERDICT if malformed else prefix})
            if not malformed:
                content.append({"type": "tool_use", "id": f"toolu_mock{len(turns):04d}", "name": "record_verdict",
                                "input": verdict})
            message = _anthropic_message(model, knobs)
            message.update(content=content, stop_reason="end_turn" if malformed else "tool_use")
            return _json(200, message)
        text = MALFORMED_VERDICT if malformed else prefix + json.dumps(verdict)
        if provider == "gemini":
            return _json(200, _gemini_response(model, knobs, text, final=True))
        completion = _chat_completion(model, knobs, False)
        completion["choices"][0]["message"]["content"] = text
        return _json(200, completion)

    # --- Azure OpenAI --------------------------------------------------------

    async def _azure(self, request, rec: Recorded, deployment: str, operation: str) -> web.StreamResponse:
        key = rec.headers.get("api-key")
        if not key or key not in self.keys["azure"]:
            return _json(401, {"error": {"code": "401", "message": (
                "Access denied due to invalid subscription key or wrong API endpoint. Make sure to "
                "provide a valid key for an active subscription and use a correct regional API "
                "endpoint for your resource.")}})
        if not rec.query.get("api-version"):
            return _json(404, {"error": {"code": "404", "message": "Resource not found"}})
        name, knobs = split_model(deployment)
        if name not in AZURE_DEPLOYMENTS:
            return _json(404, {"error": {"code": "DeploymentNotFound", "message": (
                "The API deployment for this resource does not exist. If you created the deployment "
                "within the last 5 minutes, please wait a moment and try again.")}})
        payload = rec.json if isinstance(rec.json, dict) else {}
        kind = "embeddings" if operation == "embeddings" else "chat"
        return await self._openai_answer(request, payload, AZURE_DEPLOYMENTS[name], knobs, kind, azure=True)


# --- judge helpers ----------------------------------------------------------------

def echo_reply(provider: str, payload) -> str:
    """Knob echo-prompt: "Answer: " and the last user turn's text, so what a prompt says
    decides what the answer contains."""
    turns = []
    if provider == "gemini":
        for content in (payload or {}).get("contents") or []:
            if content.get("role", "user") == "user":
                turns.append(" ".join(p.get("text", "") for p in content.get("parts") or []))
    else:
        for message in (payload or {}).get("messages") or []:
            if message.get("role") == "user":
                content = message.get("content")
                turns.append(content if isinstance(content, str) else " ".join(
                    p.get("text", "") for p in content or [] if isinstance(p, dict)))
    return "Answer: " + (turns[-1] if turns else "")


def is_judge_payload(payload) -> bool:
    if not isinstance(payload, dict):
        return False
    fmt = payload.get("response_format") or {}
    if isinstance(fmt, dict) and (fmt.get("json_schema") or {}).get("name") == "verdict":
        return True
    if any(isinstance(t, dict) and t.get("name") == "record_verdict" for t in payload.get("tools") or []):
        return True
    return bool((payload.get("generationConfig") or {}).get("responseSchema"))


def _judge_turns(provider: str, payload: dict) -> list[str]:
    """The user turns' texts, oldest first."""
    turns = []
    if provider == "gemini":
        for item in payload.get("contents") or []:
            if item.get("role") == "user":
                turns.append("".join(p.get("text", "") for p in item.get("parts") or []))
        return turns
    for message in payload.get("messages") or []:
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, list):
            content = "".join(b.get("text", "") for b in content if isinstance(b, dict))
        turns.append(content or "")
    return turns


def _block(prompt: str, tag: str) -> str | None:
    match = re.search(rf"<{tag}>\n(.*?)\n</{tag}>", prompt, re.S)
    if not match:
        return None
    try:
        return json.loads(match.group(1))
    except ValueError:
        return match.group(1)


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]+", text.lower()) if len(w) >= 3 and w not in STOPWORDS}


def judge_verdict(prompt: str) -> tuple[float, float, float, str, str]:
    """(scale low, scale high, score, reasoning, the candidate as decoded): a relevance judge."""
    scale = re.search(r"Score between (-?[\d.]+) and (-?[\d.]+)", prompt)
    low, high = (float(scale.group(1)), float(scale.group(2))) if scale else (0.0, 1.0)
    candidate = _block(prompt, "candidate_output") or ""
    question = _block(prompt, "request_input")
    if question is None:
        return low, high, low, "No request input was given, so relevance cannot be judged.", candidate
    wanted = _words(question)
    if not wanted:
        return low, high, high, "The request has no content words; any answer is relevant.", candidate
    hit = wanted & _words(candidate)
    share = len(hit) / len(wanted)
    raw = round(low + share * (high - low), 2)
    reasoning = (f"The answer repeats {len(hit)} of {len(wanted)} key words of the request"
                 + (f" ({', '.join(sorted(hit))})." if hit else "; it does not address the request."))
    return low, high, raw, reasoning, candidate


# --- transport helpers ----------------------------------------------------------

def _json(status: int, body) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(body).encode(),
        content_type="application/json",
        headers={"x-request-id": f"req_mock_{int(time.time() * 1000)}"},
    )


async def _hang() -> None:
    """Hold the request open without answering; cancelled when the caller hangs up."""
    await asyncio.sleep(3600)


async def _stream(request: web.Request, parts: list[str], knobs: set[str], content_type: str):
    response = web.StreamResponse(status=200, headers={"content-type": content_type, "cache-control": "no-cache"})
    await response.prepare(request)
    slow = "slow-stream" in knobs
    for i, part in enumerate(parts):
        if slow and i > 0:
            await asyncio.sleep(SLOW_CHUNK_DELAY_S)
        await response.write(part.encode())
    if "linger" in knobs:
        await asyncio.sleep(LINGER_S)
    await response.write_eof()
    return response


async def _sse(request: web.Request, events: list[str], knobs: set[str]):
    return await _stream(request, events, knobs, "text/event-stream; charset=utf-8")


def _data(obj) -> str:
    return f"data: {json.dumps(obj)}\n\n"


def _event(name: str, obj) -> str:
    return f"event: {name}\ndata: {json.dumps(obj)}\n\n"


# --- OpenAI shapes ----------------------------------------------------------------

def _openai_error(message: str, kind: str, code: str | None) -> dict:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def _openai_error_for(status: int, model: str, azure: bool) -> dict:
    if status == 429:
        if azure:
            return {"error": {"code": "429", "message": (
                "Requests to the ChatCompletions_Create Operation under Azure OpenAI API have exceeded "
                "call rate limit of your current OpenAI S0 pricing tier. Please retry after 6 seconds.")}}
        return _openai_error(
            f"Rate limit reached for {model} in organization org-mock on tokens per min (TPM): "
            "Limit 200000, Used 199500, Requested 1200. Please try again in 210ms.",
            "tokens", "rate_limit_exceeded")
    if status >= 500:
        return _openai_error("The server had an error while processing your request. Sorry about that!",
                             "server_error", None)
    return _openai_error(f"Invalid request for model {model}.", "invalid_request_error", None)


def _openai_usage(knobs: set[str]) -> dict:
    cached = OPENAI_CACHED_TOKENS if "cached" in knobs else 0
    usage = {
        "prompt_tokens": PROMPT_TOKENS,
        "completion_tokens": COMPLETION_TOKENS,
        "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
        "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0, "audio_tokens": 0,
            "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0,
        },
    }
    if "openrouter" in knobs:
        usage["cost"] = OPENROUTER_COST
    if "deepseek" in knobs:
        usage["prompt_cache_hit_tokens"] = cached
        usage["prompt_cache_miss_tokens"] = PROMPT_TOKENS - cached
    return usage


def _tool_call(index: int = 0) -> dict:
    return {"id": TOOL_CALL_ID, "type": "function", "function": {"name": TOOL_NAME, "arguments": json.dumps(TOOL_ARGS)}}


_AZURE_FILTER = {
    "hate": {"filtered": False, "severity": "safe"},
    "self_harm": {"filtered": False, "severity": "safe"},
    "sexual": {"filtered": False, "severity": "safe"},
    "violence": {"filtered": False, "severity": "safe"},
}


def _chat_completion(model: str, knobs: set[str], azure: bool) -> dict:
    choice = {
        "index": 0,
        "message": {"role": "assistant", "content": reply_text(knobs), "refusal": None, "annotations": []},
        "logprobs": None,
        "finish_reason": "stop",
    }
    if "tools" in knobs:
        choice["message"].update(content=None, tool_calls=[_tool_call()])
        choice["finish_reason"] = "tool_calls"
    body = {
        "id": "chatcmpl-mock0001",
        "object": "chat.completion",
        "created": CREATED,
        "model": dated(model),
        "choices": [choice],
        "usage": _openai_usage(knobs),
        "system_fingerprint": "fp_mock0001",
    }
    if azure:
        choice["content_filter_results"] = _AZURE_FILTER
        body["prompt_filter_results"] = [{"prompt_index": 0, "content_filter_results": _AZURE_FILTER}]
    else:
        body["service_tier"] = "default"
    return body


def _chat_chunks(model: str, knobs: set[str], include_usage: bool, azure: bool) -> list[str]:
    def chunk(choices, usage_present=False, usage=None):
        c = {
            "id": "chatcmpl-mock0001",
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": dated(model),
            "system_fingerprint": "fp_mock0001",
            "choices": choices,
        }
        # With include_usage every chunk carries "usage": null until the usage-only one.
        if include_usage or usage_present:
            c["usage"] = usage
        return _data(c)

    events = []
    if azure:
        events.append(_data({"choices": [], "created": 0, "id": "", "model": "", "object": "",
                             "prompt_filter_results": [{"prompt_index": 0,
                                                        "content_filter_results": _AZURE_FILTER}]}))
    events.append(chunk([{"index": 0, "delta": {"role": "assistant", "content": "" if "tools" not in knobs else None,
                                                "refusal": None},
                          "logprobs": None, "finish_reason": None}]))
    if "tools" in knobs:
        # The first delta names the call; the arguments follow in pieces under the same index.
        events.append(chunk([{"index": 0, "delta": {"tool_calls": [{
            "index": 0, "id": TOOL_CALL_ID, "type": "function", "function": {"name": TOOL_NAME, "arguments": ""}}]},
            "logprobs": None, "finish_reason": None}]))
        for piece in tool_args_pieces():
            events.append(chunk([{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]},
                                  "logprobs": None, "finish_reason": None}]))
        finish = "tool_calls"
    else:
        for i, piece in enumerate(reply_pieces(knobs)):
            if "stream-error" in knobs and i == 2:
                # OpenAI breaks a started stream off with an error payload and no [DONE].
                events.append(_data({"error": STREAM_ERROR_OPENAI}))
                return events
            events.append(chunk([{"index": 0, "delta": {"content": piece}, "logprobs": None, "finish_reason": None}]))
        finish = "stop"
    events.append(chunk([{"index": 0, "delta": {}, "logprobs": None, "finish_reason": finish}]))
    if include_usage and "no-usage" not in knobs:
        events.append(chunk([], usage_present=True, usage=_openai_usage(knobs)))
    events.append("data: [DONE]\n\n")
    return events


def _response_object(model: str, knobs: set[str], *, status: str) -> dict:
    done = status == "completed"
    cached = OPENAI_CACHED_TOKENS if "cached" in knobs else 0
    return {
        "id": "resp_mock0001",
        "object": "response",
        "created_at": CREATED,
        "status": status,
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "max_output_tokens": None,
        "model": dated(model),
        "output": ([_response_tool_item("completed")] if "tools" in knobs else [
            {
                "type": "message",
                "id": "msg_mock0001",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": reply_text(knobs), "annotations": []}],
            }
        ]) if done else [],
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "reasoning": {"effort": None, "summary": None},
        "store": True,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": {
            "input_tokens": PROMPT_TOKENS,
            "input_tokens_details": {"cached_tokens": cached},
            "output_tokens": COMPLETION_TOKENS,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
        } if done else None,
        "user": None,
        "metadata": {},
    }


def _response_tool_item(status: str) -> dict:
    return {"type": "function_call", "id": "fc_mock0001", "call_id": TOOL_CALL_ID, "name": TOOL_NAME,
            "arguments": json.dumps(TOOL_ARGS) if status == "completed" else "", "status": status}


def _responses_tool_events(model: str, knobs: set[str]) -> list[str]:
    seq = iter(range(10_000))
    events = [
        _event("response.created", {"type": "response.created", "sequence_number": next(seq),
                                    "response": _response_object(model, knobs, status="in_progress")}),
        _event("response.output_item.added", {"type": "response.output_item.added", "sequence_number": next(seq),
                                              "output_index": 0, "item": _response_tool_item("in_progress")}),
    ]
    for piece in tool_args_pieces():
        events.append(_event("response.function_call_arguments.delta", {
            "type": "response.function_call_arguments.delta", "sequence_number": next(seq),
            "item_id": "fc_mock0001", "output_index": 0, "delta": piece}))
    events += [
        _event("response.function_call_arguments.done", {
            "type": "response.function_call_arguments.done", "sequence_number": next(seq),
            "item_id": "fc_mock0001", "output_index": 0, "arguments": json.dumps(TOOL_ARGS)}),
        _event("response.output_item.done", {"type": "response.output_item.done", "sequence_number": next(seq),
                                             "output_index": 0, "item": _response_tool_item("completed")}),
        _event("response.completed", {"type": "response.completed", "sequence_number": next(seq),
                                      "response": _response_object(model, knobs, status="completed")}),
    ]
    return events


def _responses_events(model: str, knobs: set[str]) -> list[str]:
    if "tools" in knobs:
        return _responses_tool_events(model, knobs)
    seq = iter(range(10_000))
    item = {"type": "message", "id": "msg_mock0001", "status": "in_progress", "role": "assistant", "content": []}
    text = reply_text(knobs)
    events = [
        _event("response.created", {"type": "response.created", "sequence_number": next(seq),
                                    "response": _response_object(model, knobs, status="in_progress")}),
        _event("response.in_progress", {"type": "response.in_progress", "sequence_number": next(seq),
                                        "response": _response_object(model, knobs, status="in_progress")}),
        _event("response.output_item.added", {"type": "response.output_item.added", "sequence_number": next(seq),
                                              "output_index": 0, "item": item}),
        _event("response.content_part.added", {
            "type": "response.content_part.added", "sequence_number": next(seq), "item_id": "msg_mock0001",
            "output_index": 0, "content_index": 0,
            "part": {"type": "output_text", "text": "", "annotations": []}}),
    ]
    for piece in reply_pieces(knobs):
        events.append(_event("response.output_text.delta", {
            "type": "response.output_text.delta", "sequence_number": next(seq), "item_id": "msg_mock0001",
            "output_index": 0, "content_index": 0, "delta": piece, "logprobs": []}))
    done_part = {"type": "output_text", "text": text, "annotations": []}
    events += [
        _event("response.output_text.done", {
            "type": "response.output_text.done", "sequence_number": next(seq), "item_id": "msg_mock0001",
            "output_index": 0, "content_index": 0, "text": text, "logprobs": []}),
        _event("response.content_part.done", {
            "type": "response.content_part.done", "sequence_number": next(seq), "item_id": "msg_mock0001",
            "output_index": 0, "content_index": 0, "part": done_part}),
        _event("response.output_item.done", {
            "type": "response.output_item.done", "sequence_number": next(seq), "output_index": 0,
            "item": {**item, "status": "completed", "content": [done_part]}}),
        _event("response.completed", {"type": "response.completed", "sequence_number": next(seq),
                                      "response": _response_object(model, knobs, status="completed")}),
    ]
    return events


def _embeddings(payload: dict, model: str) -> dict:
    inputs = payload.get("input")
    count = len(inputs) if isinstance(inputs, list) and inputs and not isinstance(inputs[0], int) else 1
    vector = [round(0.125 * (i + 1), 3) for i in range(EMBEDDING_DIMENSIONS)]
    if payload.get("encoding_format") == "base64":
        # The official SDKs ask for base64: little-endian float32s.
        embedding = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
    else:
        embedding = vector
    return {
        "object": "list",
        "data": [{"object": "embedding", "index": i, "embedding": embedding} for i in range(count)],
        "model": model,
        "usage": {"prompt_tokens": EMBEDDING_TOKENS, "total_tokens": EMBEDDING_TOKENS},
    }


# --- Anthropic shapes -------------------------------------------------------------

def _anthropic_error(kind: str, message: str) -> dict:
    return {"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_mock0001"}


def _anthropic_input_usage(knobs: set[str]) -> dict:
    if "cached-1h" in knobs:
        return json.loads(json.dumps(ANTHROPIC_CACHED_1H_USAGE))
    if "cached" in knobs:
        return dict(ANTHROPIC_CACHED_USAGE)
    return {"input_tokens": PROMPT_TOKENS, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}


def _anthropic_message(model: str, knobs: set[str]) -> dict:
    return {
        "id": "msg_mock0001",
        "type": "message",
        "role": "assistant",
        "model": dated(model),
        "content": [{"type": "tool_use", "id": "toolu_mock0001", "name": TOOL_NAME, "input": TOOL_ARGS}]
        if "tools" in knobs else [{"type": "text", "text": reply_text(knobs)}],
        "stop_reason": "tool_use" if "tools" in knobs else "end_turn",
        "stop_sequence": None,
        "usage": {**_anthropic_input_usage(knobs), "output_tokens": COMPLETION_TOKENS, "service_tier": "standard"},
    }


def _anthropic_events(model: str, knobs: set[str]) -> list[str]:
    start = _anthropic_message(model, knobs)
    start.update(content=[], stop_reason=None)
    # message_start carries the input side; output_tokens there is a placeholder (1).
    start["usage"] = {**_anthropic_input_usage(knobs), "output_tokens": 1, "service_tier": "standard"}
    events = [
        _event("message_start", {"type": "message_start", "message": start}),
        _event("content_block_start", {"type": "content_block_start", "index": 0,
                                       "content_block": {"type": "text", "text": ""}}),
        _event("ping", {"type": "ping"}),
    ]
    pieces = reply_pieces(knobs) if "tools" not in knobs else re.findall(r"\S+\s*", "Let me check the weather.")
    for i, piece in enumerate(pieces):
        if "stream-error" in knobs and i == 2:
            events.append(_event("error", {"type": "error", "error": STREAM_ERROR_ANTHROPIC}))
            return events
        events.append(_event("content_block_delta", {"type": "content_block_delta", "index": 0,
                                                     "delta": {"type": "text_delta", "text": piece}}))
    events.append(_event("content_block_stop", {"type": "content_block_stop", "index": 0}))
    if "tools" in knobs:
        events.append(_event("content_block_start", {"type": "content_block_start", "index": 1, "content_block": {
            "type": "tool_use", "id": "toolu_mock0001", "name": TOOL_NAME, "input": {}}}))
        for piece in tool_args_pieces():
            events.append(_event("content_block_delta", {"type": "content_block_delta", "index": 1,
                                                         "delta": {"type": "input_json_delta", "partial_json": piece}}))
        events.append(_event("content_block_stop", {"type": "content_block_stop", "index": 1}))
    events += [
        # The final, cumulative output count arrives only here.
        _event("message_delta", {"type": "message_delta",
                                 "delta": {"stop_reason": "tool_use" if "tools" in knobs else "end_turn",
                                           "stop_sequence": None},
                                 "usage": {"output_tokens": COMPLETION_TOKENS}}),
        _event("message_stop", {"type": "message_stop"}),
    ]
    return events


# --- Gemini shapes ----------------------------------------------------------------

def _gemini_error(code: int, message: str, status: str) -> dict:
    return {"error": {"code": code, "message": message, "status": status}}


def _gemini_usage(knobs: set[str], *, final: bool) -> dict:
    usage = {"promptTokenCount": PROMPT_TOKENS}
    if final:
        usage["candidatesTokenCount"] = COMPLETION_TOKENS
    usage["totalTokenCount"] = PROMPT_TOKENS + (COMPLETION_TOKENS if final else 0)
    if "cached" in knobs:
        usage["cachedContentTokenCount"] = GEMINI_CACHED_TOKENS
    usage["promptTokensDetails"] = [{"modality": "TEXT", "tokenCount": PROMPT_TOKENS}]
    return usage


def _gemini_response(model: str, knobs: set[str], text: str, *, final: bool) -> dict:
    candidate = {"content": {"parts": [{"text": text}], "role": "model"}, "index": 0}
    if final:
        candidate["finishReason"] = "STOP"
    return {
        "candidates": [candidate],
        "usageMetadata": _gemini_usage(knobs, final=final),
        "modelVersion": model,
        "responseId": "mockResponse0001",
    }


def _gemini_chunks(model: str, knobs: set[str]) -> list[dict]:
    pieces = reply_pieces(knobs)
    chunks = [
        _gemini_response(model, knobs, piece, final=i == len(pieces) - 1)
        for i, piece in enumerate(pieces)
    ]
    if "tools" in knobs:
        # Gemini sends a function call whole, as its own part, in the last chunk.
        final = chunks[-1]["candidates"][0]["content"]["parts"]
        final.append({"functionCall": {"name": TOOL_NAME, "args": TOOL_ARGS}})
    return chunks

"""Calling the judge: the organization's provider key, retries on 429 / 5xx honouring
retry-after, one repair turn, and every call logged as a request tagged as a judge call
(so its cost shows in /requests, and production samples leave it out)."""
from __future__ import annotations

import random
import time

from dataclasses import dataclass, field
from decimal import Decimal
from types import SimpleNamespace

import httpx
import orjson
from django.conf import settings

from evals import judge
from proxy.logentry import PendingLog
from spanlens.core import crypto
from spanlens.core.models import ProviderKey
from spanlens.requestlog.ids import new_request_id

ORIGIN_JUDGE = "eval_judge"
TIMEOUT = httpx.Timeout(120.0, connect=10.0)
ANTHROPIC_VERSION = "2023-06-01"
RETRYABLE = {408, 409, 429}


class JudgeLog(PendingLog):
    """A judge call as a request-log row, tagged by its origin column."""

    __slots__ = ("origin",)

    def to_row(self) -> dict:
        row = super().to_row()
        row["origin"] = self.origin
        return row


class NoJudgeKey(Exception):
    pass


def key_for(organization_id, provider: str, project_id=None) -> ProviderKey:
    """The organization's active key for the judge's provider, the evaluator's project first."""
    keys = ProviderKey.objects.filter(organization_id=organization_id, provider=provider, is_active=True)
    key = keys.filter(project_id=project_id).order_by("-created_at").first() if project_id else None
    key = key or keys.order_by("-created_at").first()
    if key is None:
        raise NoJudgeKey(f"this organization has no active {provider} provider key for the judge; "
                         "add one in Settings → Provider keys")
    return key


@dataclass
class Outcome:
    status: str  # scored | parse_error | error
    verdict: judge.Verdict | None = None
    error: str = ""
    tokens: int = 0
    cost_usd: Decimal = Decimal(0)
    request_ids: list[str] = field(default_factory=list)
    attempts: int = 0


def _wait_s(response: httpx.Response | None, attempt: int) -> float:
    """retry-after-ms / retry-after when the provider sends one, else exponential backoff with jitter."""
    cap = settings.EVAL_RETRY_MAX_WAIT_S
    if response is not None:
        for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
            value = response.headers.get(name)
            if value:
                try:
                    return min(max(float(value) * scale, 0.0), cap)
                except ValueError:
                    pass
    return min(settings.EVAL_RETRY_BASE_S * (2 ** attempt) * random.uniform(0.8, 1.2), cap)


class Judge:
    """One judge (config + key) for a run; judge() may be called from several threads."""

    def __init__(self, config: dict, key: ProviderKey, *, organization_id, run_id=None, stop=None):
        from proxy.auth import ResolvedProviderKey
        from proxy.providers import ADAPTERS

        self.config = config
        self.provider = config["judge_provider"]
        self.adapter = ADAPTERS[self.provider]
        self.key = key
        self.resolved = ResolvedProviderKey(
            id=str(key.id), secret=crypto.decrypt(key.encrypted_secret), azure_endpoint=key.azure_endpoint,
            azure_deployment=key.azure_deployment, azure_api_version=key.azure_api_version,
        )
        self.organization_id = str(organization_id)
        self.run_id = str(run_id) if run_id else None
        self.stop = stop  # a threading.Event: stop retrying when the run is taken over

    def judge(self, *, input, output: str, expected: str | None, context: str = "") -> Outcome:
        outcome = Outcome(status="error")
        messages = [{"role": "user", "content": judge.user_prompt(
            self.config, input=input, output=output, expected=expected, context=context)}]
        for turn in range(2):  # the verdict, then at most one repair
            data = self._call(messages, outcome)
            if data is None:
                return outcome
            try:
                outcome.verdict = judge.parse_verdict(self.provider, data, self.config)
                outcome.status, outcome.error = "scored", ""
                return outcome
            except judge.VerdictError as exc:
                outcome.status, outcome.error = "parse_error", str(exc)
                if turn == 0:
                    messages = [*messages, *self._repair_turn(data, str(exc))]
        return outcome

    def _repair_turn(self, data, problem: str) -> list[dict]:
        text = judge.repair_message(problem, self.config)
        if self.provider == "anthropic" and isinstance(data, dict) and isinstance(data.get("content"), list):
            content = data["content"]
            calls = [b for b in content if isinstance(b, dict) and b.get("type") == "tool_use"]
            if calls:
                # A tool call must be answered by its tool_result before anything else.
                return [{"role": "assistant", "content": content},
                        {"role": "user", "content": [
                            {"type": "tool_result", "tool_use_id": calls[-1].get("id", ""), "is_error": True,
                             "content": problem},
                            {"type": "text", "text": text}]}]
        try:
            previous, _ = judge.reply_text(self.provider, data)
        except judge.VerdictError:
            previous = ""
        return [{"role": "assistant", "content": previous or "(no answer)"}, {"role": "user", "content": text}]

    def _call(self, messages: list[dict], outcome: Outcome):
        """One logical call with retries; returns the parsed body, or None with outcome.error set."""
        call = judge.build_call(self.config, messages)
        base = settings.UPSTREAM_BASE_URLS.get(self.provider)
        url = self.adapter.upstream_url(base, call.endpoint, b"", self.resolved)
        headers = {k.decode(): v.decode() for k, v in self.adapter.auth_headers(self.resolved)}
        headers["content-type"] = "application/json"
        if self.provider == "anthropic":
            headers["anthropic-version"] = ANTHROPIC_VERSION
        body = orjson.dumps(call.body)
        for attempt in range(settings.EVAL_MAX_RETRIES + 1):
            outcome.attempts += 1
            started_at, started = time.time(), time.perf_counter()
            response, failure = None, ""
            try:
                with httpx.Client(timeout=TIMEOUT) as client:
                    response = client.post(url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                failure = f"could not reach {self.provider}: {exc.__class__.__name__}: {exc}"
            latency = int((time.perf_counter() - started) * 1000)
            if response is not None:
                self._log(call, body, response, started_at, latency, outcome)
                if response.status_code < 300:
                    try:
                        return orjson.loads(response.content)
                    except orjson.JSONDecodeError:
                        outcome.status, outcome.error = "parse_error", "the judge's reply is not JSON"
                        return {}
                failure = f"{self.provider} answered HTTP {response.status_code}: {response.text[:300]}"
                retryable = response.status_code in RETRYABLE or response.status_code >= 500
            else:
                retryable = True
            outcome.status, outcome.error = "error", failure
            if not retryable or attempt == settings.EVAL_MAX_RETRIES or (self.stop and self.stop.is_set()):
                return None
            time.sleep(_wait_s(response, attempt))
        return None

    def _log(self, call, body: bytes, response: httpx.Response, started_at: float, latency: int,
             outcome: Outcome) -> None:
        from spanlens.core.pricing import compute_cost
        from spanlens.requestlog.writer import get_writer

        entry = JudgeLog(
            created_at=started_at,
            tenant=SimpleNamespace(organization_id=self.organization_id, project_id=str(self.key.project_id),
                                   api_key_id=None),
            provider=self.provider, endpoint=call.endpoint, method="POST",
            meta={"session_id": f"eval-{self.run_id}"} if self.run_id else {},
        )
        entry.origin = ORIGIN_JUDGE
        entry.id = new_request_id(entry.created_at)
        entry.provider_key_id = str(self.key.id)
        entry.model = self.config["judge_model"]
        entry.request_body = body
        entry.response_raw = response.content
        entry.status_code = response.status_code
        entry.latency_ms = latency
        outcome.request_ids.append(entry.id)
        if response.status_code < 300:
            try:
                usage = self.adapter.parse_response(response.content, entry.model).usage
            except Exception:  # an odd body still gets logged; it just has no usage
                usage = None
            if usage:
                outcome.tokens += usage.total_tokens
                cost = compute_cost(self.provider, usage.model or entry.model, prompt_tokens=usage.prompt_tokens,
                                    completion_tokens=usage.completion_tokens,
                                    cache_read_tokens=usage.cache_read_tokens,
                                    cache_write_tokens=usage.cache_write_tokens,
                                    cache_write_1h_tokens=usage.cache_write_1h_tokens)
                outcome.cost_usd += cost or Decimal(0)
        get_writer().enqueue(entry)

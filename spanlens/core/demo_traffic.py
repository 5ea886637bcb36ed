"""Realistic demo traffic for an organization: what `manage.py seed_demo` writes.

Chat sessions of end users across providers and models, with a daily rhythm, a slow
upward trend, a few errors, prompt versions and agent traces. Rows go through the
request-log writer's batch path (write_batch: ClickHouse insert, fallback, span
linking), exactly as proxied calls do; traces and prompts through their services.
"""
from __future__ import annotations

import math
import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable

import orjson
from django.db import transaction

from spanlens.core import pricing
from spanlens.requestlog import queries
from spanlens.requestlog.writer import write_batch

# (provider, model as answered, endpoint, share of calls, median latency ms)
MODELS = (
    ("openai", "gpt-4o-mini-2024-07-18", "v1/chat/completions", 0.38, 650),
    ("openai", "gpt-4o-2024-08-06", "v1/chat/completions", 0.14, 1400),
    ("openai", "gpt-4.1-mini-2025-04-14", "v1/chat/completions", 0.08, 800),
    ("anthropic", "claude-3-5-haiku-20241022", "v1/messages", 0.16, 900),
    ("anthropic", "claude-sonnet-4-5-20250929", "v1/messages", 0.10, 2100),
    ("gemini", "gemini-2.0-flash", "v1beta/models/gemini-2.0-flash:generateContent", 0.10, 550),
    ("azure", "gpt-4o-mini", "openai/deployments/gpt-4o-mini/chat/completions", 0.04, 700),
)
QUESTIONS = (
    "Where is my order {n}?", "Can I change the delivery address for order {n}?", "How do I reset my password?",
    "Summarise this support ticket: the customer reports the app crashes on login.",
    "Translate 'thank you for your patience' into Portuguese.", "What is your refund policy for digital items?",
    "Draft a short apology for a late delivery.", "Which plan includes SSO?", "Explain invoice {n} line by line.",
)
ANSWERS = (
    "Order {n} shipped yesterday and should arrive on Monday.", "Yes, I updated the address; you will get a confirmation email.",
    "Use 'Forgot password' on the sign-in page; the link is valid for one hour.",
    "The customer cannot sign in: the app closes right after the login screen on Android 14.",
    "'Obrigado pela sua paciência.'", "Digital items can be refunded within 14 days if unused.",
    "We are sorry your order arrived late; a 10% voucher is on its way.", "SSO is part of the Business plan.",
    "Invoice {n}: two seats at $20 and one add-on at $5, plus tax.",
)
STATUS = ((200, 0.968), (429, 0.016), (500, 0.008), (503, 0.004), (400, 0.004))
ERRORS = {429: "Rate limit reached for requests", 500: "The server had an error while processing your request.",
          503: "The engine is currently overloaded, please try again later.", 400: "Invalid 'max_tokens': too large."}


@dataclass
class DemoResult:
    rows: int = 0
    sessions: int = 0
    traces: int = 0
    users: int = 0
    prompts: list[str] = field(default_factory=list)


def _prompt_versions(organization, project) -> list[str]:
    """Two prompts, created once, with a few versions each; returns the version ids calls carry."""
    from evals.models import Prompt
    from evals.prompt_services import create_prompt, create_version

    ids = []
    for name, texts in (("support-reply", ("Answer politely: {{question}}", "Answer politely and briefly: {{question}}",
                                           "You are Acme support. Answer in two sentences: {{question}}")),
                        ("summarise-ticket", ("Summarise: {{ticket}}", "Summarise in one line: {{ticket}}"))):
        prompt = Prompt.objects.filter(organization=organization, name=name).first()
        if prompt is None:
            prompt = create_prompt(organization, project, name, template=texts[0])
            for text in texts[1:]:
                create_version(prompt, template=text)
        ids.extend(str(v) for v in prompt.versions.order_by("-version").values_list("id", flat=True)[:2])
    return ids


def _body(provider: str, model: str, history: list[tuple[str, str]], question: str) -> str:
    turns = []
    for q, a in history:
        turns += [("user", q), ("assistant", a)]
    turns.append(("user", question))
    if provider == "anthropic":
        return orjson.dumps({"model": model, "max_tokens": 512, "system": "You are Acme's support assistant.",
                             "messages": [{"role": r, "content": t} for r, t in turns]}).decode()
    if provider == "gemini":
        return orjson.dumps({"contents": [{"role": "model" if r == "assistant" else r, "parts": [{"text": t}]}
                                          for r, t in turns]}).decode()
    return orjson.dumps({"model": model, "messages": [{"role": "system", "content": "You are Acme's support assistant."},
                                                      *({"role": r, "content": t} for r, t in turns)]}).decode()


def _reply(provider: str, model: str, text: str, prompt: int, completion: int) -> str:
    if provider == "anthropic":
        return orjson.dumps({"id": f"msg_{uuid.uuid4().hex[:12]}", "type": "message", "role": "assistant", "model": model,
                             "content": [{"type": "text", "text": text}],
                             "usage": {"input_tokens": prompt, "output_tokens": completion}}).decode()
    if provider == "gemini":
        return orjson.dumps({"candidates": [{"content": {"role": "model", "parts": [{"text": text}]},
                                             "finishReason": "STOP"}],
                             "usageMetadata": {"promptTokenCount": prompt, "candidatesTokenCount": completion}}).decode()
    return orjson.dumps({"id": f"chatcmpl-{uuid.uuid4().hex[:12]}", "object": "chat.completion", "model": model,
                         "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                      "finish_reason": "stop"}],
                         "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                                   "total_tokens": prompt + completion}}).decode()


def _activity(at: datetime, start: datetime, days: int) -> float:
    """Relative traffic at a moment: busier in the working day, quieter on weekends, growing slowly."""
    hour = at.hour + at.minute / 60
    daily = 0.35 + 0.65 * math.exp(-((hour - 14) ** 2) / 18)
    weekly = 0.6 if at.weekday() >= 5 else 1.0
    trend = 1.0 + 0.35 * (at - start).total_seconds() / max(days * 86400, 1)
    return daily * weekly * trend


def _pick(rng: random.Random, weighted):
    x, acc = rng.random(), 0.0
    for item, weight in weighted:
        acc += weight
        if x < acc:
            return item
    return weighted[-1][0]


def generate(organization, projects, *, days: int, calls_per_day: int = 3000, seed: int = 42,
             spike_latency: bool = False, sample_rate: float = 1.0, now: datetime | None = None,
             progress: Callable[[int, int], None] | None = None, batch_size: int = 2000) -> DemoResult:
    """Write about days × calls_per_day calls (× sample_rate stored rows) ending now."""
    from spanlens.traces import services as trace_services

    rng = random.Random(seed)
    now = now or datetime.now(timezone.utc)
    start = now - timedelta(days=days)
    versions = _prompt_versions(organization, projects[0])
    users = [f"cust-{1000 + i}" for i in range(60)]
    # A few heavy users and a long tail (Zipf), as real products have.
    harmonic = sum(1 / (i + 1) for i in range(len(users)))
    user_weights = [(u, 1 / (i + 1) / harmonic) for i, u in enumerate(users)]
    model_weights = [(m, m[3]) for m in MODELS]
    spike_model = MODELS[0]
    total_calls = days * calls_per_day
    result = DemoResult(prompts=versions)
    pending: list[dict] = []
    seen_users: set[str] = set()

    def flush():
        if pending:
            write_batch(list(pending))
            result.rows += len(pending)
            pending.clear()
            if progress:
                # The last session may run a few calls past the target.
                progress(result.rows, max(round(total_calls * sample_rate), result.rows))

    def one_session() -> int:
        """One user's conversation: its calls queued in `pending`, its trace ingested; returns the calls made."""
        made = 0
        # A session starts at a moment drawn in proportion to the activity curve.
        at = start + timedelta(seconds=rng.random() * days * 86400)
        if rng.random() > _activity(at, start, days) / 1.35:
            return 0
        user = _pick(rng, user_weights) if rng.random() < 0.9 else None
        project = projects[rng.randrange(len(projects))]
        provider, model, endpoint, _, median = _pick(rng, model_weights)
        version = rng.choice(versions) if rng.random() < 0.45 else None
        session_id = f"chat-{uuid.UUID(int=rng.getrandbits(128)).hex[:10]}"
        turns = min(1 + int(rng.expovariate(0.45)), 12)
        traced = rng.random() < 0.12
        trace_id = uuid.UUID(int=rng.getrandbits(128), version=4) if traced else None
        spans: list[dict] = []
        history: list[tuple[str, str]] = []
        result.sessions += 1
        for turn in range(turns):
            if at > now:
                break
            n = rng.randint(1000, 9999)
            k = rng.randrange(len(QUESTIONS))
            question, answer = QUESTIONS[k].format(n=n), ANSWERS[k].format(n=n)
            status = _pick(rng, STATUS)
            prompt_tokens = 180 + 60 * len(history) * 2 + rng.randint(0, 400)
            completion = rng.randint(20, 420) if status == 200 else 0
            cache_read = int(prompt_tokens * 0.6) if provider == "anthropic" and history and rng.random() < 0.5 else 0
            latency = int(rng.lognormvariate(math.log(median), 0.35) + completion * 4)
            if spike_latency and (provider, model) == spike_model[:2] and at >= now - timedelta(hours=1):
                latency *= 6
            cost = pricing.compute_cost(provider, model, prompt_tokens=prompt_tokens, completion_tokens=completion,
                                        cache_read_tokens=cache_read)
            span_id = uuid.UUID(int=rng.getrandbits(128), version=4) if traced else None
            kept_share = sample_rate if status < 400 else 1.0
            made += 1
            if rng.random() < kept_share:
                row = {
                    "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                    "organization_id": str(organization.id), "project_id": str(project.id),
                    "provider": provider, "model": model, "endpoint": endpoint, "method": "POST",
                    "stream": rng.random() < 0.4, "prompt_tokens": prompt_tokens, "completion_tokens": completion,
                    "total_tokens": prompt_tokens + completion, "cache_read_tokens": cache_read,
                    "cache_write_tokens": 0, "cost_usd": str(cost) if cost is not None else None,
                    "cost_source": "reported" if cost is not None else "unknown",
                    "latency_ms": latency, "proxy_overhead_ms": rng.randint(0, 3), "status_code": status,
                    "request_body": _body(provider, model, history, question),
                    "response_body": _reply(provider, model, answer, prompt_tokens, completion) if status == 200 else
                    orjson.dumps({"error": {"message": ERRORS[status], "type": "api_error"}}).decode(),
                    "error_message": "" if status == 200 else ERRORS[status],
                    "trace_id": str(trace_id) if traced else None, "span_id": str(span_id) if traced else None,
                    "prompt_version_id": version, "user_id": user, "session_id": session_id, "log_body": "full",
                    "flags": "[]", "response_flags": "[]", "truncated": False,
                    "created_at": queries.format_ts(at), "sample_rate": kept_share,
                }
                pending.append(row)
                if user:
                    seen_users.add(user)
            if traced:
                spans.append({"id": span_id, "trace_id": trace_id, "name": model, "span_type": "llm",
                              "status": "completed" if status == 200 else "error", "started_at": at,
                              "ended_at": at + timedelta(milliseconds=latency),
                              "error": ERRORS.get(status)})
                spans.append({"id": uuid.UUID(int=rng.getrandbits(128), version=4), "trace_id": trace_id,
                              "name": "lookup_order", "span_type": "tool", "status": "completed",
                              "started_at": at + timedelta(milliseconds=latency),
                              "ended_at": at + timedelta(milliseconds=latency + rng.randint(20, 200)),
                              "input": {"order": str(n)}, "output": {"status": "shipped"}})
            history.append((question, answer))
            at += timedelta(milliseconds=latency) + timedelta(seconds=rng.randint(5, 90))
        if traced and spans:
            root = uuid.UUID(int=rng.getrandbits(128), version=4)
            first, last = spans[0]["started_at"], spans[-1]["ended_at"]
            for s in spans:
                s["parent_span_id"] = root
            spans.insert(0, {"id": root, "trace_id": trace_id, "name": "support-agent", "span_type": "custom",
                             "status": "completed", "started_at": first, "ended_at": last, "parent_span_id": None})
            trace_services.ingest(
                organization_id=organization.id, project_id=project.id,
                traces=[{"id": trace_id, "name": "support-agent", "status": "completed", "user_id": user,
                         "session_id": session_id, "started_at": first, "ended_at": last}],
                spans=spans,
            )
            result.traces += 1
        return made

    made = 0
    while made < total_calls:
        # One transaction per batch: span links and traces commit together, not call by call.
        with transaction.atomic():
            while made < total_calls and len(pending) < batch_size:
                made += one_session()
            flush()
    if progress:
        progress(result.rows, result.rows)
    result.users = len(seen_users)
    return result

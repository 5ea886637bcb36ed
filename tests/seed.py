"""Realistic request-log rows written through queries.insert_requests."""
from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta, timezone

import orjson

from spanlens.requestlog import queries

MODELS = {
    "openai": ["gpt-4o-mini-2024-07-18", "gpt-4o-2024-08-06", "o3-mini-2025-01-31"],
    "anthropic": ["claude-3-5-sonnet-20241022", "claude-3-5-haiku-20241022"],
    "gemini": ["gemini-1.5-flash-002"],
}
STATUSES = [200] * 92 + [429] * 3 + [400] * 2 + [500] * 2 + [503]


def request_body(provider: str, model: str, text: str) -> str:
    if provider == "anthropic":
        body = {"model": model, "max_tokens": 256, "system": "You are terse.",
                "messages": [{"role": "user", "content": text}]}
    elif provider == "gemini":
        body = {"contents": [{"role": "user", "parts": [{"text": text}]}]}
    else:
        body = {"model": model, "messages": [{"role": "system", "content": "You are terse."},
                                             {"role": "user", "content": text}]}
    return orjson.dumps(body).decode()


def response_body(provider: str, model: str, text: str) -> str:
    if provider == "anthropic":
        body = {"id": "msg_1", "type": "message", "model": model, "role": "assistant",
                "content": [{"type": "text", "text": text}], "usage": {"input_tokens": 10, "output_tokens": 5}}
    elif provider == "gemini":
        body = {"candidates": [{"content": {"role": "model", "parts": [{"text": text}]}}]}
    else:
        body = {"id": "chatcmpl-1", "object": "chat.completion", "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]}
    return orjson.dumps(body).decode()


def make_row(org, project, *, created_at: datetime | None = None, rng: random.Random | None = None, **extra) -> dict:
    rng = rng or random.Random()
    provider = extra.pop("provider", None) or rng.choice(list(MODELS))
    model = extra.pop("model", None) or rng.choice(MODELS[provider])
    status = extra.pop("status_code", None) or rng.choice(STATUSES)
    prompt = rng.randint(10, 4000)
    completion = rng.randint(1, 800) if status == 200 else 0
    word = rng.choice(["weather", "invoice", "poem", "summary", "refund", "translate"])
    row = {
        "id": str(uuid.uuid4()),
        "organization_id": str(org.id),
        "project_id": str(project.id),
        "provider": provider,
        "model": model,
        "endpoint": f"v1beta/models/{model}:generateContent" if provider == "gemini"
        else ("v1/messages" if provider == "anthropic" else "v1/chat/completions"),
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "cost_usd": f"{(prompt * 0.15 + completion * 0.6) / 1_000_000:.8f}",
        "latency_ms": rng.randint(80, 4000),
        "status_code": status,
        "request_body": request_body(provider, model, f"Please help with the {word}."),
        "response_body": response_body(provider, model, f"Here is the {word}.") if status == 200 else "",
        "error_message": "" if status == 200 else f'{{"error": {{"message": "upstream said {status}"}}}}',
        "created_at": queries.format_ts(created_at or datetime.now(timezone.utc) - timedelta(seconds=rng.randint(0, 29 * 86400))),
    }
    row.update(extra)
    return row


def seed(org, project, count: int, *, seed: int = 7, **extra) -> list[dict]:
    rng = random.Random(seed)
    rows = [make_row(org, project, rng=rng, **extra) for _ in range(count)]
    queries.insert_requests(rows)
    return rows

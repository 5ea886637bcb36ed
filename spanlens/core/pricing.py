"""Model prices and the cost of one call. The only place cost is computed.

Prices are read from ModelPrice into an in-process table refreshed every
PRICE_CACHE_TTL_S (or at once after an edit in this process), so the proxy
never queries the database per request.
"""
from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from decimal import Decimal

PRICE_CACHE_TTL_S = 60.0
MILLION = Decimal(1_000_000)
_DATE_SUFFIX = re.compile(r"(-\d{4}-\d{2}-\d{2}|-\d{8}|@\d{8}|-\d{4}|-latest|-preview-\d{2}-\d{2})$")


@dataclass(frozen=True)
class Price:
    input_per_1m: Decimal
    output_per_1m: Decimal
    cache_read_per_1m: Decimal | None
    cache_write_per_1m: Decimal | None
    cache_write_1h_per_1m: Decimal | None = None


_table: dict[tuple[str, str], Price] = {}
# (provider, model as logged) -> resolved price; rebuilt with the table.
_resolved: dict[tuple[str, str], Price | None] = {}
_loaded_at = 0.0
_lock = threading.Lock()


def _load() -> None:
    global _table, _loaded_at
    from spanlens.core.models import ModelPrice

    table = {
        (p.provider, p.model.lower()): Price(
            p.input_per_1m, p.output_per_1m, p.cache_read_per_1m, p.cache_write_per_1m, p.cache_write_1h_per_1m
        )
        for p in ModelPrice.objects.all()
    }
    _table, _loaded_at = table, time.monotonic()
    _resolved.clear()


def invalidate() -> None:
    global _loaded_at
    _loaded_at = 0.0


def _table_now() -> dict[tuple[str, str], Price]:
    if time.monotonic() - _loaded_at > PRICE_CACHE_TTL_S:
        with _lock:
            if time.monotonic() - _loaded_at > PRICE_CACHE_TTL_S:
                _load()
    return _table


def _candidates(model: str):
    """gpt-4o-mini-2024-07-18 -> itself, then gpt-4o-mini; models/gemini-x -> gemini-x;
    ft:gpt-4o-mini-2024-07-18:acme::abc123 -> ft:gpt-4o-mini-2024-07-18, then the base model."""
    name = model.lower().strip()
    if name.startswith("models/"):
        name = name[len("models/"):]
    yield name
    if name.startswith("ft:"):
        # OpenAI fine-tunes: ft:<base>:<org>:<suffix>:<id>. The fine-tune rate first, then the base's.
        base = name[3:].split(":", 1)[0]
        yield f"ft:{base}"
        name = base
        yield name
    stripped = name
    while True:
        shorter = _DATE_SUFFIX.sub("", stripped)
        if shorter == stripped:
            break
        stripped = shorter
        yield stripped


def price_names(model: str) -> list[str]:
    """The table names a logged model name is priced by, most specific first."""
    return list(_candidates(model))


def find_price(provider: str, model: str | None) -> Price | None:
    if not model:
        return None
    table = _table_now()
    key = (provider, model)
    if key in _resolved:
        return _resolved[key]
    price = _resolve(table, provider, model)
    if len(_resolved) < 10_000:  # model names come from traffic: keep the memo bounded
        _resolved[key] = price
    return price


def _resolve(table: dict[tuple[str, str], Price], provider: str, model: str) -> Price | None:
    # Azure deployments bill like the OpenAI model they host.
    providers = (provider, "openai") if provider == "azure" else (provider,)
    for candidate in _candidates(model):
        for prov in providers:
            price = table.get((prov, candidate))
            if price is not None:
                return price
    if provider == "openrouter" and "/" in model:
        # OpenRouter names models vendor/model and charges the vendor's list price.
        vendor, _, name = model.lower().partition("/")
        if vendor in {p for p, _ in table} and vendor != provider:
            return _resolve(table, vendor, name)
    return None


def compute_cost(
    provider: str,
    model: str | None,
    *,
    prompt_tokens: int,
    completion_tokens: int,
    cache_read_tokens: int = 0,
    cache_write_tokens: int = 0,
    cache_write_1h_tokens: int = 0,
) -> Decimal | None:
    """USD cost; prompt_tokens is gross (includes the cached read and written portions);
    cache_write_1h_tokens is the part of cache_write_tokens written for one hour.

    None when the model has no price, so unknown models stay visible as unpriced.
    """
    price = find_price(provider, model)
    if price is None:
        return None
    read_rate = price.cache_read_per_1m if price.cache_read_per_1m is not None else price.input_per_1m
    write_rate = price.cache_write_per_1m if price.cache_write_per_1m is not None else price.input_per_1m
    write_1h_rate = price.cache_write_1h_per_1m if price.cache_write_1h_per_1m is not None else write_rate
    write_1h = min(max(cache_write_1h_tokens, 0), cache_write_tokens)
    uncached = max(prompt_tokens - cache_read_tokens - cache_write_tokens, 0)
    total = (
        Decimal(uncached) * price.input_per_1m
        + Decimal(cache_read_tokens) * read_rate
        + Decimal(cache_write_tokens - write_1h) * write_rate
        + Decimal(write_1h) * write_1h_rate
        + Decimal(completion_tokens) * price.output_per_1m
    ) / MILLION
    return total.quantize(Decimal("0.00000001"))

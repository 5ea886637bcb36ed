"""Import the community price table (LiteLLM's model_prices_and_context_window.json):
read it, compare it with ModelPrice, apply the difference.

The file prices per token; ModelPrice per 1M tokens. Only the providers Spanlens
proxies are read, and only text modes (chat, completion, embedding, responses).
A price that traffic still uses is never deleted, whatever the file says.
"""
from __future__ import annotations

import getpass
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

import orjson
from django.db import transaction

from spanlens.core import audit, pricing
from spanlens.core.models import ModelPrice, Organization

# The file's litellm_provider -> ours.
PROVIDERS = {
    "openai": "openai", "text-completion-openai": "openai",
    "anthropic": "anthropic",
    "gemini": "gemini",
    "azure": "azure", "azure_text": "azure",
    "mistral": "mistral",
    "groq": "groq",
    "deepseek": "deepseek",
    "xai": "xai",
    "openrouter": "openrouter",
    "together_ai": "together",
    "fireworks_ai": "fireworks",
}
MODES = {"chat": "chat", "completion": "chat", "embedding": "embedding", "responses": "responses"}
FIELDS = ("input_per_1m", "output_per_1m", "cache_read_per_1m", "cache_write_per_1m", "cache_write_1h_per_1m")
_SOURCE_FIELDS = {
    "input_per_1m": "input_cost_per_token",
    "output_per_1m": "output_cost_per_token",
    "cache_read_per_1m": "cache_read_input_token_cost",
    "cache_write_per_1m": "cache_creation_input_token_cost",
    "cache_write_1h_per_1m": "cache_creation_input_token_cost_above_1hr",
}
MILLION = Decimal(1_000_000)
_PLACES = Decimal("0.000001")  # ModelPrice keeps six decimals


@dataclass(frozen=True)
class Entry:
    provider: str
    model: str
    mode: str
    prices: tuple  # in FIELDS order, Decimal or None

    def as_dict(self) -> dict:
        return dict(zip(FIELDS, self.prices))


@dataclass
class Diff:
    added: list[Entry] = field(default_factory=list)
    changed: list[tuple[ModelPrice, Entry]] = field(default_factory=list)
    removed: list[ModelPrice] = field(default_factory=list)
    # In the table, gone from the file, but called in the last days: kept.
    kept_in_use: list[ModelPrice] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.added or self.changed or self.removed)


def load(source: str, *, timeout: float = 30.0) -> dict:
    """The JSON from a file path or an http(s) URL."""
    if source.startswith(("http://", "https://")):
        import httpx

        response = httpx.get(source, timeout=timeout, follow_redirects=True)
        response.raise_for_status()
        raw = response.content
    else:
        with open(source, "rb") as fh:
            raw = fh.read()
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"{source} is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{source} is not a price table (expected an object of models)")
    return data


def _per_1m(value) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        per_token = Decimal(str(value))
    except InvalidOperation:
        return None
    if not per_token.is_finite() or per_token < 0:
        return None
    return (per_token * MILLION).quantize(_PLACES).normalize()


def parse(data: dict) -> dict[tuple[str, str], Entry]:
    entries: dict[tuple[str, str], Entry] = {}
    for name, spec in data.items():
        if not isinstance(spec, dict) or name == "sample_spec":
            continue
        source_provider = spec.get("litellm_provider")
        provider = PROVIDERS.get(source_provider)
        mode = MODES.get(spec.get("mode") or "chat")
        if provider is None or mode is None:
            continue
        prices = {f: _per_1m(spec.get(src)) for f, src in _SOURCE_FIELDS.items()}
        if prices["input_per_1m"] is None and prices["output_per_1m"] is None:
            continue
        prices["input_per_1m"] = prices["input_per_1m"] or Decimal(0)
        prices["output_per_1m"] = prices["output_per_1m"] or Decimal(0)
        if provider in ("openai", "azure") and prices["cache_read_per_1m"] is None \
                and prices["cache_write_per_1m"] is not None:
            # OpenAI bills cached input, not cache writes: a lone cache-write figure in the
            # file (ft:gpt-4o-2024-11-20's) is its cached-input price in the wrong field.
            prices["cache_read_per_1m"], prices["cache_write_per_1m"] = prices["cache_write_per_1m"], None
        if provider == "anthropic" and prices["cache_write_1h_per_1m"] is None and prices["input_per_1m"]:
            # Anthropic bills 1-hour cache writes at twice the input rate.
            prices["cache_write_1h_per_1m"] = (2 * prices["input_per_1m"]).normalize()
        # Keys name non-default providers as "<provider>/<model>".
        model = name
        for prefix in (f"{source_provider}/", f"{provider}/"):
            if model.startswith(prefix):
                model = model[len(prefix):]
                break
        if not model or len(model) > 200:
            continue
        entries[(provider, model)] = Entry(provider, model, mode, tuple(prices[f] for f in FIELDS))
    return entries


def _same(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return Decimal(a) == Decimal(b)


def _in_use_keys(days: int) -> set[tuple[str, str]]:
    """Every (provider, price-table name) that a model called lately would be priced by."""
    from spanlens.requestlog import queries

    keys = set()
    for row in queries.list_models_in_use(organization_id=None, days=days):
        providers = (row["provider"], "openai") if row["provider"] == "azure" else (row["provider"],)
        for candidate in pricing.price_names(row["model"]):
            for provider in providers:
                keys.add((provider, candidate))
    return keys


def diff(entries: dict[tuple[str, str], Entry], *, remove: bool = True, in_use_days: int = 90) -> Diff:
    result = Diff()
    covered = {provider for provider, _ in entries}
    existing = {(p.provider, p.model): p for p in ModelPrice.objects.filter(provider__in=covered)}
    for key, entry in sorted(entries.items()):
        price = existing.get(key)
        if price is None:
            result.added.append(entry)
        elif not all(_same(getattr(price, f), v) for f, v in entry.as_dict().items()):
            result.changed.append((price, entry))
    if remove:
        gone = [p for key, p in sorted(existing.items()) if key not in entries]
        if gone:
            in_use = _in_use_keys(in_use_days)
            for price in gone:
                target = result.kept_in_use if (price.provider, price.model.lower()) in in_use else result.removed
                target.append(price)
    return result


def apply(result: Diff, *, source: str) -> None:
    with transaction.atomic():
        ModelPrice.objects.bulk_create([
            ModelPrice(provider=e.provider, model=e.model, mode=e.mode, **e.as_dict()) for e in result.added
        ])
        for price, entry in result.changed:
            for name, value in entry.as_dict().items():
                setattr(price, name, value)
            price.save()
        if result.removed:
            ModelPrice.objects.filter(pk__in=[p.pk for p in result.removed]).delete()
        _record(result, source)
    pricing.invalidate()


def _text(value) -> str | None:
    return None if value is None else format(Decimal(value).normalize(), "f")


def _record(result: Diff, source: str) -> None:
    """The price table is shared: every organization's audit log says it changed."""
    limit = 200  # the full lists are in the command's output; the log keeps a readable part
    details = {
        "source": source,
        "by": f"manage.py sync_prices ({_os_user()})",
        "added": [f"{e.provider}/{e.model}" for e in result.added][:limit],
        "changed": [
            {"model": f"{p.provider}/{p.model}", "after": {f: _text(v) for f, v in e.as_dict().items()}}
            for p, e in result.changed
        ][:limit],
        "removed": [f"{p.provider}/{p.model}" for p in result.removed][:limit],
        "kept_in_use": [f"{p.provider}/{p.model}" for p in result.kept_in_use][:limit],
        "counts": {"added": len(result.added), "changed": len(result.changed), "removed": len(result.removed)},
    }
    for organization_id in Organization.objects.values_list("id", flat=True):
        audit.record(organization_id, "model_price.sync", target="model price table", details=details)


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown user"

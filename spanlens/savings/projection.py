"""Repricing a week of traffic on another model, and how sure the monthly figure is.

Pure functions over the request log's token sums; every price comes from the one cost
engine (spanlens.core.pricing.compute_cost).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from spanlens.core import pricing

DAYS = 7
DAYS_PER_MONTH = 30
# Student's t, 97.5th percentile, for DAYS - 1 degrees of freedom (a 95 % interval over 7 days).
T_975_6DF = 2.4469118511449692


@dataclass
class TokenMix:
    calls: float = 0.0
    prompt: float = 0.0
    completion: float = 0.0
    cache_read: float = 0.0
    cache_write: float = 0.0
    logged_cost: float = 0.0
    rows: int = 0

    def add(self, row: dict) -> None:
        self.calls += float(row["calls"] or 0)
        self.prompt += float(row["prompt"] or 0)
        self.completion += float(row["completion"] or 0)
        self.cache_read += float(row["cache_read"] or 0)
        self.cache_write += float(row["cache_write"] or 0)
        self.logged_cost += float(row["spend"] or 0)
        self.rows += int(row["rows"] or 0)


def cost_at(provider: str, model: str, mix: TokenMix) -> float | None:
    """What this token mix costs on a model at list price; None when it has no price."""
    cost = pricing.compute_cost(
        provider, model, prompt_tokens=round(mix.prompt), completion_tokens=round(mix.completion),
        cache_read_tokens=round(mix.cache_read), cache_write_tokens=round(mix.cache_write),
    )
    return float(cost) if cost is not None else None


@dataclass
class Usage:
    """One (provider, model)'s last DAYS days: one mix per 24 hours (index 0 = the last day)."""

    provider: str
    model: str
    days: list[TokenMix] = field(default_factory=lambda: [TokenMix() for _ in range(DAYS)])

    @property
    def total(self) -> TokenMix:
        out = TokenMix()
        for d in self.days:
            for name in ("calls", "prompt", "completion", "cache_read", "cache_write", "logged_cost", "rows"):
                setattr(out, name, getattr(out, name) + getattr(d, name))
        return out


def usage_by_model(rows: list[dict]) -> dict[tuple[str, str], Usage]:
    """list_model_token_days rows grouped into one Usage per (provider, model)."""
    out: dict[tuple[str, str], Usage] = {}
    for row in rows:
        ago = int(row["day_ago"])
        if not 0 <= ago < DAYS:
            continue
        key = (row["provider"], row["model"])
        usage = out.setdefault(key, Usage(*key))
        usage.days[ago].add(row)
    return out


@dataclass
class Projection:
    current_week: float          # the week at the source model's list price
    target_week: float           # the same tokens on the target model
    monthly_saving: float        # (current - target) per DAYS, times DAYS_PER_MONTH
    interval: float              # half-width of the 95 % interval of monthly_saving
    confidence: str              # high / medium / low, from stored calls and the interval
    rows: int                    # stored calls the projection rests on
    daily_current: list[float]
    daily_target: list[float]

    @property
    def saving_share(self) -> float:
        return (self.current_week - self.target_week) / self.current_week if self.current_week else 0.0


def confidence_label(rows: int, monthly: float, interval: float) -> str:
    """high: 1,000+ calls and the 95 % interval within ±20 % of the figure; medium: 200+
    calls and within ±50 %; low otherwise (a few calls, or days that disagree)."""
    relative = interval / abs(monthly) if monthly else math.inf
    if rows >= 1000 and relative <= 0.2:
        return "high"
    if rows >= 200 and relative <= 0.5:
        return "medium"
    return "low"


def project(usage: Usage, target_provider: str, target_model: str) -> Projection | None:
    """The week repriced on the target; None when either model has no price."""
    daily_current, daily_target = [], []
    for mix in usage.days:
        current = cost_at(usage.provider, usage.model, mix)
        target = cost_at(target_provider, target_model, mix)
        if current is None or target is None:
            return None
        daily_current.append(current)
        daily_target.append(target)
    savings = [c - t for c, t in zip(daily_current, daily_target)]
    mean = sum(savings) / DAYS
    sd = math.sqrt(sum((s - mean) ** 2 for s in savings) / (DAYS - 1))
    monthly = mean * DAYS_PER_MONTH
    # The month is DAYS_PER_MONTH days like these: the day-to-day spread of the saving, not
    # just the call count, says how far the figure may be off.
    interval = T_975_6DF * sd / math.sqrt(DAYS) * DAYS_PER_MONTH
    rows = usage.total.rows
    return Projection(
        current_week=sum(daily_current), target_week=sum(daily_target), monthly_saving=monthly,
        interval=interval, confidence=confidence_label(rows, monthly, interval), rows=rows,
        daily_current=daily_current, daily_target=daily_target,
    )


def cache_read_saving(provider: str, model: str, cache_read_tokens: float) -> float:
    """What the tokens read from the prompt cache would have cost at the input price, less
    what they cost as cache reads."""
    n = round(cache_read_tokens)
    full = pricing.compute_cost(provider, model, prompt_tokens=n, completion_tokens=0)
    cached = pricing.compute_cost(provider, model, prompt_tokens=n, completion_tokens=0, cache_read_tokens=n)
    return float(full - cached) if full is not None and cached is not None else 0.0


def cache_write_premium(provider: str, model: str, cache_write_tokens: float) -> float:
    """What writing to the cache cost above the plain input price (Anthropic charges 1.25x)."""
    n = round(cache_write_tokens)
    plain = pricing.compute_cost(provider, model, prompt_tokens=n, completion_tokens=0)
    written = pricing.compute_cost(provider, model, prompt_tokens=n, completion_tokens=0, cache_write_tokens=n)
    return float(written - plain) if plain is not None and written is not None else 0.0

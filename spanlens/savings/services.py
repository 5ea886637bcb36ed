"""What an organization could save: cheaper substitutes, the prompt cache, and repricing.

Reads only: the request log through spanlens.requestlog.insights, prices through the
cost engine, substitutes from the ModelTier table.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

from django.conf import settings
from django.utils.text import slugify

from spanlens.core import pricing
from spanlens.core.models import Organization
from spanlens.requestlog import insights
from spanlens.savings import projection as proj
from spanlens.savings.models import ModelTier

# Rough characters per token of a JSON request body, to turn a shared prefix into tokens.
CHARS_PER_TOKEN = 4
CACHE_ADVICE = {
    "anthropic": "Mark the shared prefix with cache_control; reads then cost a tenth of the input price.",
    "openai": "OpenAI caches prompts of 1,024+ tokens by itself: keep the shared part first and identical "
              "(no timestamps or ids before it).",
    "azure": "Azure OpenAI caches prompts of 1,024+ tokens: keep the shared part first and identical.",
    "gemini": "Put the shared part first so implicit caching applies, or create a context cache for it.",
}


@dataclass
class Suggestion:
    provider: str
    model: str                 # as logged
    tier: ModelTier
    substitute: ModelTier
    projection: proj.Projection

    @property
    def step(self) -> str:
        return "same tier" if self.substitute.tier == self.tier.tier else "one tier lighter"

    def as_dict(self) -> dict:
        p = self.projection
        return {
            "provider": self.provider, "model": self.model, "tier": self.tier.get_tier_display(),
            "substitute_provider": self.substitute.provider, "substitute_model": self.substitute.model,
            "substitute_tier": self.substitute.get_tier_display(), "step": self.step,
            "monthly_saving_usd": round(p.monthly_saving, 2), "interval_usd": round(p.interval, 2),
            "saving_share": round(p.saving_share, 4), "confidence": p.confidence, "calls_sampled": p.rows,
            "current_week_usd": round(p.current_week, 6), "substitute_week_usd": round(p.target_week, 6),
        }


def tier_of(provider: str, model: str, tiers: dict[tuple[str, str], ModelTier]) -> ModelTier | None:
    """The tier row of a logged model name (gpt-4o-2024-08-06 is gpt-4o)."""
    for name in pricing.price_names(model):
        row = tiers.get((provider, name))
        if row is not None:
            return row
    return None


def substitutes_for(tier: ModelTier, tiers: dict[tuple[str, str], ModelTier]) -> list[ModelTier]:
    """The rule: same provider and kind, the same tier or one step lighter, enabled."""
    if not tier.enabled:
        return []
    return [t for t in tiers.values() if t.enabled and t.provider == tier.provider and t.kind == tier.kind
            and t.model != tier.model and tier.tier <= t.tier <= tier.tier + 1]


def _tiers() -> dict[tuple[str, str], ModelTier]:
    return {(t.provider, t.model.lower()): t for t in ModelTier.objects.all()}


def _usage(organization_id, project_id, retention_days) -> dict[tuple[str, str], proj.Usage]:
    rows = insights.list_model_token_days(organization_id=str(organization_id), days=proj.DAYS,
                                          retention_days=retention_days, project_id=project_id)
    return proj.usage_by_model(rows)


def model_savings(*, organization_id, project_id: str | None = None, retention_days: int = 365) -> list[dict]:
    """Each (provider, model) of the last 7 days, busiest spend first: its usage, its tier and
    the substitutes that would cost less (largest saving first). Models below
    SAVINGS_MIN_CALLS stored calls are listed without substitutes ("not enough traffic")."""
    tiers = _tiers()
    out = []
    for (provider, model), usage in _usage(organization_id, project_id, retention_days).items():
        total = usage.total
        tier = tier_of(provider, model, tiers)
        entry = {"provider": provider, "model": model, "usage": total, "tier": tier, "suggestions": [],
                 "enough": total.rows >= settings.SAVINGS_MIN_CALLS,
                 "list_week_usd": proj.cost_at(provider, model, total)}
        if tier is not None and entry["enough"]:
            for sub in substitutes_for(tier, tiers):
                p = proj.project(usage, sub.provider, sub.model)
                if p is not None and p.monthly_saving > 0:
                    entry["suggestions"].append(Suggestion(provider, model, tier, sub, p))
            entry["suggestions"].sort(key=lambda s: -s.projection.monthly_saving)
        out.append(entry)
    out.sort(key=lambda e: -e["usage"].logged_cost)
    return out


def _month_start(now: datetime) -> datetime:
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def prompt_cache_mtd(*, organization_id, project_id: str | None = None, retention_days: int = 365,
                     now: datetime | None = None) -> dict:
    """Month to date (UTC): what reading from the provider's prompt cache saved against the
    input price, the premium paid to write it, per model and in total."""
    now = now or datetime.now(timezone.utc)
    rows = insights.list_prompt_cache_usage(organization_id=str(organization_id), since=_month_start(now),
                                            retention_days=retention_days, project_id=project_id)
    models = []
    for r in rows:
        saved = proj.cache_read_saving(r["provider"], r["model"], float(r["cache_read"] or 0))
        premium = proj.cache_write_premium(r["provider"], r["model"], float(r["cache_write"] or 0))
        models.append({"provider": r["provider"], "model": r["model"], "calls": float(r["calls"] or 0),
                       "cache_read_tokens": float(r["cache_read"] or 0),
                       "cache_write_tokens": float(r["cache_write"] or 0),
                       "prompt_tokens": float(r["prompt"] or 0),
                       "saved_usd": saved, "write_premium_usd": premium, "net_usd": saved - premium})
    models.sort(key=lambda m: -m["net_usd"])
    saved = sum(m["saved_usd"] for m in models)
    premium = sum(m["write_premium_usd"] for m in models)
    return {"since": _month_start(now), "saved_usd": saved, "write_premium_usd": premium,
            "net_usd": saved - premium, "models": models}


def cacheable_calls(*, organization_id, project_id: str | None = None, retention_days: int = 365,
                    limit: int = 10) -> list[dict]:
    """Groups of last week's long prompts that share a prefix and barely use the cache, with
    what caching that prefix would have saved per month (an estimate: the prefix length is
    known to 4 or 16 thousand characters, and the first call of each 5 minutes writes it)."""
    rows = insights.list_cacheable_prefixes(organization_id=str(organization_id), project_id=project_id,
                                            retention_days=retention_days, limit=limit)
    out = []
    for r in rows:
        long_shared = int(r["long_variants"]) == 1 and int(r["min_body_chars"]) >= insights.LONG_PREFIX_CHARS
        prefix_chars = insights.LONG_PREFIX_CHARS if long_shared else insights.PREFIX_CHARS
        calls = float(r["calls"] or 0)
        prefix_tokens = min(prefix_chars // CHARS_PER_TOKEN, int(r["min_prompt_tokens"]))
        reads = max(calls - 1, 0) * prefix_tokens
        weekly = proj.cache_read_saving(r["provider"], r["model"], reads)
        out.append({**r, "calls": calls, "prefix_tokens": prefix_tokens, "at_least": not long_shared,
                    "avg_prompt_tokens": float(r["prompt"] or 0) / calls if calls else 0.0,
                    "monthly_saving_usd": weekly / proj.DAYS * proj.DAYS_PER_MONTH,
                    "advice": CACHE_ADVICE.get(r["provider"], CACHE_ADVICE["openai"])})
    out.sort(key=lambda g: -g["monthly_saving_usd"])
    return out


class SimulationError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def simulate(*, organization_id, provider: str, model: str, target_provider: str, target_model: str,
             project_id: str | None = None, retention_days: int = 365) -> dict:
    """The last 7 days of one (provider, model) repriced on the target model: per day and in
    total, as logged, at the source's list price and on the target. SimulationError names the
    bad field (unknown target price, no traffic)."""
    if pricing.find_price(target_provider, target_model) is None:
        raise SimulationError("target_model", f"{target_provider}/{target_model} has no price in the price table")
    rows = insights.list_model_token_days(organization_id=str(organization_id), days=proj.DAYS,
                                          retention_days=retention_days, project_id=project_id,
                                          provider=provider, model=model)
    usage = proj.usage_by_model(rows).get((provider, model))
    if usage is None:
        raise SimulationError("model", f"no calls to {provider}/{model} in the last 7 days")
    p = proj.project(usage, target_provider, target_model)
    if p is None:
        raise SimulationError("model", f"{provider}/{model} has no price in the price table")
    now = datetime.now(timezone.utc)
    days = [{"label": (now - timedelta(days=i)).strftime("%a %b %-d"), "calls": usage.days[i].calls,
             "logged_usd": usage.days[i].logged_cost, "current_usd": p.daily_current[i],
             "target_usd": p.daily_target[i]} for i in reversed(range(proj.DAYS))]
    total = usage.total
    return {"provider": provider, "model": model, "target_provider": target_provider,
            "target_model": target_model, "projection": p, "days": days,
            "monthly_extra": max(-p.monthly_saving, 0.0), "calls": total.calls,
            "rows": total.rows, "logged_week_usd": total.logged_cost,
            "prompt_tokens": total.prompt, "completion_tokens": total.completion,
            "cache_read_tokens": total.cache_read, "replay_url": replay_url(provider, model, target_provider,
                                                                            target_model, now)}


def replay_url(provider: str, model: str, target_provider: str, target_model: str,
               now: datetime | None = None) -> str:
    """The bulk replay form for last week's calls of a model, with the substitute filled in."""
    now = now or datetime.now(timezone.utc)
    since = (now - timedelta(days=proj.DAYS)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return "/experiments/replay/?" + urlencode({
        "provider": provider, "model": model, "from": since, "status": "ok",
        "target_provider": target_provider, "target_model": target_model,
        "target_name": f"Savings check: {model} → {target_model}",
    })


def model_anchor(provider: str, model: str) -> str:
    """The id of a model's card on /savings."""
    return "m-" + slugify(f"{provider}-{model}")


def savings_summary(*, organization_id) -> dict:
    """For the home page and alerts, the whole organization (all projects):

    {
      "monthly_saving_usd": float,    # sum over models of their best substitute's monthly saving
      "cache_saved_mtd_usd": float,   # prompt-cache reads this month, saved against list price, net of writes
      "models_considered": int,       # (provider, model) pairs with enough traffic in the last 7 days
      "top": [                        # best substitute per model, largest saving first, at most 5
        {"provider", "model", "tier", "substitute_provider", "substitute_model", "substitute_tier",
         "step", "monthly_saving_usd", "interval_usd", "saving_share", "confidence",
         "calls_sampled", "current_week_usd", "substitute_week_usd", "url"},
      ],
    }
    """
    org = Organization.objects.get(id=organization_id)
    models = model_savings(organization_id=org.id, retention_days=org.retention_days)
    best = [m["suggestions"][0] for m in models if m["suggestions"]]
    best.sort(key=lambda s: -s.projection.monthly_saving)
    cache = prompt_cache_mtd(organization_id=org.id, retention_days=org.retention_days)
    top = []
    for s in best[:5]:
        top.append({**s.as_dict(), "url": f"/savings/#{model_anchor(s.provider, s.model)}"})
    return {
        "monthly_saving_usd": round(sum(s.projection.monthly_saving for s in best), 2),
        "cache_saved_mtd_usd": round(cache["net_usd"], 2),
        "models_considered": sum(1 for m in models if m["enough"]),
        "top": top,
    }

"""/savings: cheaper substitutes from last week's traffic, the prompt cache, and repricing."""
from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from spanlens.core import access as access_mod
from spanlens.core.access import Access, org_required
from spanlens.core.models import ProviderKey
from spanlens.savings import services
from spanlens.savings.models import ModelTier

# Substitutes listed per model, largest saving first; the rest are counted.
SHOWN = 5


def _scope(request: HttpRequest, access: Access) -> dict:
    project = access_mod.current_project(request)
    return {"organization_id": access.organization.id, "retention_days": access.retention_days,
            "project_id": str(project.id) if project else None}


def _simulation(request: HttpRequest, access: Access) -> tuple[dict | None, dict, dict]:
    """(result, form values, errors) of the Simulate form in the query string, if sent."""
    fields = ("provider", "model", "target_provider", "target_model")
    values = {k: (request.GET.get(k) or "").strip() for k in fields}
    # The page's form names the source as one "provider|model" choice.
    if request.GET.get("source"):
        values["provider"], _, values["model"] = request.GET["source"].partition("|")
    if not any(values.values()):
        return None, values, {}
    errors = {k: "is required" for k in fields if not values[k]}
    for k in ("provider", "target_provider"):
        if values[k] and values[k] not in ProviderKey.Provider.values:
            errors[k] = "is not a provider"
    if errors:
        return None, values, errors
    try:
        result = services.simulate(**values, **_scope(request, access))
    except services.SimulationError as exc:
        return None, values, {exc.field: exc.message}
    return result, values, {}


def _context(request: HttpRequest, access: Access) -> dict:
    scope = _scope(request, access)
    models = services.model_savings(**scope)
    for m in models:
        u = m["usage"]
        m["anchor"] = services.model_anchor(m["provider"], m["model"])
        m["sampled"] = u.calls > u.rows + 0.5
        m["sample_rate"] = u.rows / u.calls if u.calls else 1.0
        m["replays"] = [{"s": s, "url": services.replay_url(m["provider"], m["model"], s.substitute.provider,
                                                            s.substitute.model)} for s in m["suggestions"][:SHOWN]]
        m["more"] = max(len(m["suggestions"]) - SHOWN, 0)
    best = [m["suggestions"][0] for m in models if m["suggestions"]]
    return {
        "models": models,
        "monthly_saving": sum(s.projection.monthly_saving for s in best),
        "models_enough": sum(1 for m in models if m["enough"]),
        "week_spend": sum(m["usage"].logged_cost for m in models),
        "any_sampled": any(m["sampled"] for m in models),
        "cache": services.prompt_cache_mtd(**scope),
        "cacheable": services.cacheable_calls(**scope),
        "min_calls": settings.SAVINGS_MIN_CALLS,
        "providers": ProviderKey.Provider.values,
        "tier_models": ModelTier.objects.filter(enabled=True).order_by("provider", "tier", "model"),
        "project": access_mod.current_project(request),
    }


@org_required
def savings_page(request: HttpRequest, access: Access) -> HttpResponse:
    result, values, errors = _simulation(request, access)
    if request.htmx and request.htmx.target == "sim-result":
        return render(request, "savings/savings.html#simulation", {"sim": result, "values": values, "errors": errors},
                      status=400 if errors else 200)
    context = {**_context(request, access), "sim": result, "values": values, "errors": errors}
    return render(request, "savings/savings.html", context, status=400 if errors else 200)

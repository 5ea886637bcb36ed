"""/budgets: set spend and rate limits, and see each one's use in its current window."""
from __future__ import annotations

from datetime import datetime, timezone

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from spanlens.budgets import enforce, periods, services
from spanlens.budgets.models import Budget
from spanlens.budgets.rules import rule_of, to_usd, usd_text
from spanlens.core import access as access_mod
from spanlens.core import audit
from spanlens.core.access import Access, org_required, require_write
from spanlens.core.models import ApiKey, Project


def _who(request: HttpRequest) -> dict:
    return {"actor": request.user, "ip": audit.client_ip(request)}


def _budget_or_404(access: Access, budget_id) -> Budget:
    from django.http import Http404

    budget = Budget.objects.filter(organization=access.organization,
                                   id=access_mod.uuid_or_404(budget_id)).first()
    if budget is None:
        raise Http404("No such budget")
    return budget


@org_required
def budgets_page(request: HttpRequest, access: Access) -> HttpResponse:
    error = None
    if request.method == "POST":
        require_write(access)
        try:
            _apply(request, access)
        except services.BudgetError as exc:
            error = exc.message
        else:
            return redirect("budgets")
    rows = [_usage(b) for b in Budget.objects.filter(organization=access.organization)
            .select_related("project", "api_key")]
    return render(request, "budgets/budgets.html", {
        "rows": rows,
        "error": error,
        "form": request.POST if error else None,
        "can_write": access.can_write,
        "projects": Project.objects.filter(organization=access.organization).order_by("name"),
        "api_keys": ApiKey.objects.filter(organization=access.organization, revoked_at__isnull=True)
        .select_related("project").order_by("name"),
        "scopes": Budget.Scope.choices,
        "metrics": Budget.Metric.choices,
    }, status=400 if error else 200)


def _apply(request: HttpRequest, access: Access) -> None:
    action = request.POST.get("action", "create")
    if action == "create":
        scope = request.POST.get("scope", "")
        project = api_key = None
        if scope in ("project", "user") and request.POST.get("project_id"):
            project = access_mod.get_project_or_404(access, request.POST["project_id"])
        if scope == "api_key" and request.POST.get("api_key_id"):
            api_key = access_mod.get_api_key_or_404(access, request.POST["api_key_id"])
        budget = services.create_budget(access.organization, scope=scope, metric=request.POST.get("metric", ""),
                                        limit=request.POST.get("limit", ""), project=project, api_key=api_key,
                                        user_id=request.POST.get("user_id", ""), **_who(request))
        messages.success(request, f"Added the budget {budget}.")
    elif action == "update":
        budget = _budget_or_404(access, request.POST.get("budget_id"))
        services.set_limit(budget, request.POST.get("limit", ""), **_who(request))
        messages.success(request, f"Saved the budget {budget}.")
    elif action == "delete":
        budget = _budget_or_404(access, request.POST.get("budget_id"))
        services.delete_budget(budget, **_who(request))
        messages.success(request, f"Removed the budget {budget}.")
    else:
        raise services.BudgetError("action", "Unknown action.")


def _usage(budget: Budget) -> dict:
    """What the proxy counts against the budget in its current window, as the page shows it."""
    from spanlens.requestlog import queries

    rule = rule_of(budget)
    now = enforce.clock()
    _period, start, end = periods.window(rule.metric, now)
    row = {"budget": budget, "resets": periods.when(end, now), "users": []}
    if rule.per_user and not rule.user_id:
        # One counter per user: show who is closest to the limit.
        if rule.is_spend:
            top = queries.list_user_spend_since(organization_id=rule.organization_id,
                                                since=datetime.fromtimestamp(start, timezone.utc),
                                                project_id=rule.project_id or None)
            limit = to_usd(rule.limit)
            for user in top:
                spent = to_usd(enforce.current_value(rule, user["user_id"]))
                row["users"].append({"user_id": user["user_id"], "used": usd_text(spent),
                                     "percent": _percent(spent, limit)})
        return row
    value = enforce.current_value(rule)
    if rule.is_spend:
        used, limit = to_usd(value), to_usd(rule.limit)
        row["used"] = usd_text(used)
    else:
        used, limit = value, rule.limit
        row["used"] = f"{value} this minute"
    row["percent"] = _percent(used, limit)
    return row


def _percent(used, limit) -> int:
    return int(used * 100 / limit) if limit else 0

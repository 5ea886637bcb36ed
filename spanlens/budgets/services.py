"""Every write to budgets; each is audited and reaches every proxy process at once."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.db import transaction

from spanlens.budgets.models import Budget
from spanlens.core import audit
from spanlens.core.invalidation import keys_changed
from spanlens.core.models import ApiKey, Organization, Project

MAX_USD = Decimal("1000000000")
MAX_RPM = 10_000_000


class BudgetError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def parse_limit(metric: str, raw) -> Decimal:
    text = str(raw if raw is not None else "").strip().lstrip("$").replace(",", "")
    if not text:
        raise BudgetError("limit", "Enter a limit.")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise BudgetError("limit", f"The limit must be a number, got {text[:40]!r}.")
    if not value.is_finite() or value <= 0:
        raise BudgetError("limit", "The limit must be more than zero.")
    if metric == Budget.Metric.RPM:
        if value != value.to_integral_value() or value > MAX_RPM:
            raise BudgetError("limit", f"Requests per minute must be a whole number up to {MAX_RPM:,}.")
        return value
    if value > MAX_USD or value.normalize().as_tuple().exponent < -8:
        raise BudgetError("limit", "Enter dollars with at most eight decimals, up to $1,000,000,000.")
    return value


def create_budget(organization: Organization, *, scope: str, metric: str, limit, project: Project | None = None,
                  api_key: ApiKey | None = None, user_id: str = "", actor=None, ip: str | None = None) -> Budget:
    if scope not in Budget.Scope.values:
        raise BudgetError("scope", f"Choose what the budget limits: one of {', '.join(Budget.Scope.values)}.")
    if metric not in Budget.Metric.values:
        raise BudgetError("metric", f"Choose a kind of limit: one of {', '.join(Budget.Metric.values)}.")
    amount = parse_limit(metric, limit)
    user_id = (user_id or "").strip()
    for thing in (project, api_key):
        if thing is not None and thing.organization_id != organization.id:
            raise BudgetError("scope", "That project or key belongs to another organization.")
    if scope == Budget.Scope.PROJECT:
        if project is None:
            raise BudgetError("project", "Choose the project.")
        api_key, user_id = None, ""
    elif scope == Budget.Scope.API_KEY:
        if api_key is None:
            raise BudgetError("api_key", "Choose the API key.")
        project, user_id = None, ""
    else:
        api_key = None
        if len(user_id) > 256:
            raise BudgetError("user_id", "The user id is longer than 256 characters.")
    with transaction.atomic():
        budget = Budget.objects.create(organization=organization, scope=scope, metric=metric, limit=amount,
                                       project=project, api_key=api_key, user_id=user_id)
        audit.record(organization, "budget.create", actor=actor, ip=ip, target=str(budget),
                     details={"budget_id": str(budget.id), "scope": scope, "metric": metric, "limit": str(amount)})
        # The proxy caches a key's budgets with the key.
        keys_changed()
    return budget


def set_limit(budget: Budget, limit, *, actor=None, ip: str | None = None) -> Budget:
    amount = parse_limit(budget.metric, limit)
    with transaction.atomic():
        budget.limit = amount
        budget.save(update_fields=["limit"])
        audit.record(budget.organization_id, "budget.update", actor=actor, ip=ip, target=str(budget),
                     details={"budget_id": str(budget.id), "limit": str(amount)})
        keys_changed()
    return budget


def delete_budget(budget: Budget, *, actor=None, ip: str | None = None) -> None:
    with transaction.atomic():
        audit.record(budget.organization_id, "budget.delete", actor=actor, ip=ip, target=str(budget),
                     details={"budget_id": str(budget.id)})
        budget.delete()
        keys_changed()

"""The budgets that apply to one Spanlens key and project, compiled for the proxy's cache."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

# Spend is counted in units of 1e-8 USD (the request log's precision).
UNITS_PER_USD = 100_000_000
# Counters outlive their window a little, so a correction arriving just after the end still lands.
TTL_MARGIN_S = 3600


@dataclass(frozen=True, slots=True)
class Rule:
    budget_id: str
    organization_id: str
    metric: str  # usd_day, usd_month, rpm
    limit: int  # requests, or spend units
    scope: str  # project, api_key, user
    user_id: str = ""  # user budgets: one end user, or "" for each end user
    label: str = ""  # who is limited, for the refusal message
    project_id: str = ""  # the project a project or user budget counts in ("" for all)
    api_key_id: str = ""

    @property
    def is_spend(self) -> bool:
        return self.metric != "rpm"

    @property
    def per_user(self) -> bool:
        return self.scope == "user"


def to_units(amount: Decimal) -> int:
    return int((amount * UNITS_PER_USD).to_integral_value())


def to_usd(units: int) -> Decimal:
    return Decimal(units) / UNITS_PER_USD


def usd_text(amount: Decimal) -> str:
    """$1.00, $0.0036: cents, or as many decimals as a small amount needs (up to 8)."""
    amount = Decimal(amount)
    if amount == amount.quantize(Decimal("0.01")) or abs(amount) >= Decimal("0.01"):
        return f"${amount:,.2f}"
    return "$" + format(amount.quantize(Decimal("0.00000001")).normalize(), "f")


def rule_of(budget) -> Rule:
    limit = int(budget.limit) if budget.metric == "rpm" else to_units(budget.limit)
    if budget.scope == "project":
        label = f"project {budget.project.name}"
    elif budget.scope == "api_key":
        label = f"API key {budget.api_key.name}"
    else:
        label = f"user {budget.user_id}" if budget.user_id else "each end user"
    return Rule(str(budget.id), str(budget.organization_id), budget.metric, limit, budget.scope,
                budget.user_id, label, str(budget.project_id or ""), str(budget.api_key_id or ""))


def rules_for(organization_id: str, project_id: str, api_key_id: str) -> tuple[Rule, ...]:
    """What limits a call through this key to this project: the project's budgets, the key's,
    and the end-user budgets of the project or of the whole organization."""
    from django.db.models import Q

    from spanlens.budgets.models import Budget

    budgets = Budget.objects.filter(organization_id=organization_id).filter(
        Q(scope="project", project_id=project_id) | Q(scope="api_key", api_key_id=api_key_id)
        | Q(scope="user", project_id=project_id) | Q(scope="user", project__isnull=True)
    ).select_related("project", "api_key")
    return tuple(rule_of(b) for b in budgets)

"""A budget reached 80 % or 100 % of its limit in the current window: an alert through the
organization's "Budget reached" rules (or the owners' email when it has none)."""
from __future__ import annotations

import logging
from decimal import Decimal

from spanlens.budgets.rules import usd_text

log = logging.getLogger("spanlens.budgets")


def threshold_crossed(budget_id: str, percent: int, *, subject: str = "", spent_usd: Decimal | None = None) -> None:
    """Called once per budget, window and threshold (from the log writer's thread)."""
    who = f" for user {subject}" if subject else ""
    spent = f" (spent {usd_text(spent_usd)})" if spent_usd is not None else ""
    log.warning("Budget %s reached %d%%%s%s.", budget_id, percent, who, spent)
    # The alert reads the database and queues deliveries: a task, not the log writer's work.
    from spanlens.budgets.tasks import budget_alert

    try:
        budget_alert.delay(str(budget_id), int(percent), subject, str(spent_usd) if spent_usd is not None else None)
    except Exception:  # a broker that cannot be reached must not disturb the log path
        log.exception("could not queue the alert for budget %s", budget_id)


def send_alert(budget_id: str, percent: int, subject: str, spent_usd: Decimal | None) -> None:
    from django.conf import settings

    from spanlens.alerts.services import fire_external
    from spanlens.budgets.models import Budget

    try:
        budget = Budget.objects.filter(id=budget_id).select_related("project", "api_key").first()
        if budget is None:
            return
        who = f" for user {subject}" if subject else ""
        title = f"Budget {percent} % used{who}: {budget}"
        detail = (f"{usd_text(spent_usd)} of {usd_text(budget.limit)}" if spent_usd is not None
                  else f"limit {usd_text(budget.limit)}")
        # One alert per budget, subject, threshold and window: the cooldown spans the window.
        fire_external(budget.organization_id, "budget", title, detail,
                      f"budget:{budget.id}:{subject}:{percent}", cooldown_minutes=60 * 24,
                      url=f"{settings.WEB_URL}/budgets/", value=float(percent))
    except Exception:  # an alert that cannot be sent must not fail the task forever
        log.exception("could not send the alert for budget %s", budget_id)

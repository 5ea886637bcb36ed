"""The budget alert as a Celery task: raised from the log writer's thread, sent by a worker."""
from __future__ import annotations

from celery import shared_task


@shared_task(name="spanlens.budgets.tasks.budget_alert", ignore_result=True)
def budget_alert(budget_id: str, percent: int, subject: str = "", spent_usd: str | None = None) -> None:
    from decimal import Decimal

    from spanlens.budgets.notify import send_alert

    send_alert(budget_id, percent, subject, Decimal(spent_usd) if spent_usd is not None else None)

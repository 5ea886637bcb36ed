"""A budget reached 80 % or 100 % of its limit in the current window."""
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

"""Admit or refuse a call against its budgets, and correct the spend once its cost is known.

admit() runs on the proxy's event loop before the call is forwarded: the tenant's rules
come with its cached key lookup, so a call with no budgets costs one truth test, and one
with budgets one counter round trip. The spend it counts up front is an estimate (the
prompt's size and max_tokens at the model's price); settle() replaces it with the row's
cost, computed by the same engine as the dashboard, when the call has finished.
"""
from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from decimal import Decimal

from spanlens.budgets import notify, periods
from spanlens.budgets.counters import PREFIX, get_counters
from spanlens.budgets.rules import TTL_MARGIN_S, Rule, to_units, to_usd, usd_text

log = logging.getLogger("spanlens.budgets")
THRESHOLDS = (80, 100)
MAX_SUBJECT = 256
# (provider, model) -> spend units per prompt and per completion token, learnt in settle()
# (off the loop, where reading the price table may touch the database).
_rates: dict[tuple[str, str], tuple[float, float]] = {}
# Wall-clock seconds; windows are UTC calendar minutes, days and months (tests move it).
clock = time.time


@dataclass(frozen=True, slots=True)
class Refusal:
    message: str
    retry_after: int
    budget_id: str


def counter_key(rule: Rule, subject: str, period: str) -> str:
    # The organization in braces: a Redis Cluster keeps one call's counters in one slot.
    return f"{PREFIX}{{{rule.organization_id}}}:{rule.budget_id}:{subject}:{period}"


def estimate(provider: str, model: str | None, body_len: int, parsed) -> int:
    rates = _rates.get((provider, model or ""))
    if rates is None:
        return 0
    most = 0
    if isinstance(parsed, dict):
        most = parsed.get("max_tokens") or parsed.get("max_completion_tokens") or parsed.get("max_output_tokens") or 0
        config = parsed.get("generationConfig")
        if not most and isinstance(config, dict):
            most = config.get("maxOutputTokens") or 0
        if not isinstance(most, int):
            most = 0
    # About four bytes of request JSON per prompt token.
    return int(body_len * 0.25 * rates[0] + most * rates[1])


async def admit(rules: tuple[Rule, ...], user: str, provider: str, model: str | None, body_len: int,
                parsed) -> tuple[Refusal | None, tuple | None]:
    """(refusal, None) when a budget is used up; (None, hold) otherwise, the hold naming the
    spend counters this call was counted on, for settle()."""
    now = clock()
    if len(user) > MAX_SUBJECT:
        # Headers can be long; counter keys stay short (one user, one key all the same).
        user = "sha256:" + hashlib.sha256(user.encode()).hexdigest()
    checks = []
    applied = []
    amount = None
    for rule in rules:
        if rule.per_user:
            if not user or (rule.user_id and rule.user_id != user):
                continue
            subject = user
        else:
            subject = ""
        period, _start, end = periods.window(rule.metric, now)
        if rule.metric == "rpm":
            add = 1
        else:
            if amount is None:
                amount = estimate(provider, model, body_len, parsed)
            add = amount
        ttl = int(end - now) + TTL_MARGIN_S
        checks.append((counter_key(rule, subject, period), rule.limit, ttl, add))
        applied.append((rule, end, subject))
    if not checks:
        return None, None
    refused = await get_counters().admit(checks)
    if refused:
        rule, end, subject = applied[refused - 1]
        return Refusal(_message(rule, subject, end, now), periods.retry_after(end, now), rule.budget_id), None
    spend = tuple((key, rule.budget_id, rule.limit, ttl, subject)
                  for (key, _limit, ttl, _add), (rule, _end, subject) in zip(checks, applied) if rule.is_spend)
    return None, ((amount or 0, provider, model or "", spend) if spend else None)


def _message(rule: Rule, subject: str, end: float, now: float) -> str:
    who = f"user {subject}" if rule.per_user else rule.label
    if rule.metric == "rpm":
        return (f"Rate limit reached: {who} may send {rule.limit} requests per minute. "
                f"Retry {periods.when(end, now)}.")
    span = "daily" if rule.metric == "usd_day" else "monthly"
    return (f"Budget reached: {who} has used its {usd_text(to_usd(rule.limit))} {span} budget. "
            f"Calls resume {periods.when(end, now)}, or raise the budget in Spanlens → Budgets.")


def settle(hold: tuple, cost: Decimal | None, model: str = "") -> None:
    """Replace the call's estimate with its cost on each spend counter, and announce a budget
    that reached 80 % or 100 % (once per window)."""
    estimated, provider, requested_model, spend = hold
    _learn(provider, requested_model)
    if model and model != requested_model:
        _learn(provider, model)
    delta = (to_units(cost) if cost else 0) - estimated
    counters = get_counters()
    for key, budget_id, limit, ttl, subject in spend:
        if delta:
            value = counters.add(key, delta, ttl)
        elif estimated:
            value = counters.get_many([key])[0] or 0
        else:
            continue
        for percent in THRESHOLDS:
            if value * 100 >= limit * percent and counters.once(f"{key}:alert{percent}", ttl):
                notify.threshold_crossed(budget_id, percent, subject=subject, spent_usd=to_usd(value))


def _learn(provider: str, model: str) -> None:
    if not model or (provider, model) in _rates:
        return
    from spanlens.core.pricing import find_price

    price = find_price(provider, model)
    # Units per token: USD per million tokens x 1e8 units per USD / 1e6.
    rates = (float(price.input_per_1m) * 100, float(price.output_per_1m) * 100) if price else (0.0, 0.0)
    if len(_rates) < 10_000:
        _rates[(provider, model)] = rates


# --- the figures a budget is checked against -----------------------------------

# Users whose spend a new "each end user" budget starts from, per window.
SEED_USERS = 10_000


def current_value(rule: Rule, subject: str = "", now: float | None = None) -> int:
    """The counter of this window; a spend counter the proxy has not seen yet starts from the
    request log (a restart, a new budget, Redis emptied)."""
    now = clock() if now is None else now
    period, start, end = periods.window(rule.metric, now)
    subject = subject or (rule.user_id if rule.per_user else "")
    key = counter_key(rule, subject, period)
    counters = get_counters()
    value = counters.get_many([key])[0]
    if value is None and rule.is_spend and (subject or not rule.per_user):
        value = _spend_from_log(rule, start, subject)
        counters.seed(key, value, int(end - now) + TTL_MARGIN_S)
        value = counters.get_many([key])[0] or value
    return value or 0


def seed(rules: tuple[Rule, ...]) -> None:
    """Start each spend counter of this window from the log when the proxy has none yet
    (off the loop: with the key lookup)."""
    for rule in rules:
        if not rule.is_spend:
            continue
        try:
            if rule.per_user and not rule.user_id:
                _seed_each_user(rule)
            else:
                current_value(rule)
        except Exception:  # the log away: count from zero rather than refuse to serve
            log.warning("could not read budget %s's spend from the request log", rule.budget_id, exc_info=True)


def _seed_each_user(rule: Rule) -> None:
    from datetime import datetime, timezone

    from spanlens.requestlog import queries

    now = clock()
    period, start, end = periods.window(rule.metric, now)
    ttl = int(end - now) + TTL_MARGIN_S
    counters = get_counters()
    # Once per window and backend: users who come later are counted from their first call.
    if not counters.once(counter_key(rule, "", f"seeded-{period}"), ttl):
        return
    for user in queries.list_user_spend_since(organization_id=rule.organization_id,
                                              since=datetime.fromtimestamp(start, timezone.utc),
                                              project_id=rule.project_id or None, limit=SEED_USERS):
        counters.seed(counter_key(rule, user["user_id"], period), to_units(Decimal(user["spend"])), ttl)


def _spend_from_log(rule: Rule, start: float, subject: str) -> int:
    from datetime import datetime, timezone

    from spanlens.requestlog import queries

    spent = queries.get_spend_since(
        organization_id=rule.organization_id, since=datetime.fromtimestamp(start, timezone.utc),
        project_id=rule.project_id or None, api_key_id=rule.api_key_id or None,
        user_id=subject if rule.per_user else None,
    )
    return to_units(spent)

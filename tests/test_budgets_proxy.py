"""Budgets and rate limits through the official SDKs: a used-up budget answers 429 with
Retry-After before anything reaches the provider, the refusal is logged, everyone else
goes through, and spend is the request log's cost (estimates corrected at the finish)."""
from __future__ import annotations

from decimal import Decimal

import anthropic
import openai
import pytest

from spanlens.budgets import enforce, notify, services as budgets
from spanlens.budgets.rules import rule_of, to_units
from spanlens.core import services
from spanlens.requestlog.writer import get_writer
from tests import mock_upstream as mock
from tests.costs import cost_of, usd

MESSAGES = [{"role": "user", "content": "Why is the sky blue?"}]
# Each gpt-4o-mini call through the mock: 1200 tokens in at $0.15/1M, 300 out at $0.60/1M.
CALL = usd((1200, "0.15"), (300, "0.6"))


def chat(client, user: str | None = None, **extra):
    headers = {"x-spanlens-user": user} if user else {}
    headers.update(extra.pop("extra_headers", {}))
    return client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, extra_headers=headers, **extra)


def settled(budget, spent, subject: str = "") -> None:
    """Spend is corrected when the row is built, and the proxy queues the row only after the
    response has left: wait until the budget's counter shows `spent`."""
    import time

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        get_writer().flush()
        if enforce.current_value(rule_of(budget), subject) >= to_units(spent):
            return
        time.sleep(0.02)
    raise AssertionError(f"the budget never showed ${spent} spent")


@pytest.fixture
def alerts(monkeypatch):
    fired = []
    monkeypatch.setattr(notify, "threshold_crossed",
                        lambda budget_id, percent, **kw: fired.append((budget_id, percent, kw.get("subject"))))
    return fired


def test_a_user_over_its_daily_budget_gets_a_429_and_others_go_through(
    live_db, upstream, provider_keys, openai_client, org, project, read_rows
):
    budget = budgets.create_budget(org, scope="user", metric="usd_day", limit=CALL * 2, user_id="alice")
    chat(openai_client, "alice")
    settled(budget, CALL)
    chat(openai_client, "alice")
    settled(budget, CALL * 2)
    sent = len(upstream.requests)

    with pytest.raises(openai.RateLimitError) as refused:
        chat(openai_client, "alice")
    response = refused.value.response
    assert response.status_code == 429
    assert response.json()["success"] is False
    assert "user alice" in response.json()["error"] and "$0.00072 daily budget" in response.json()["error"]
    assert "daily budget" in response.json()["error"]
    assert 1 <= int(response.headers["retry-after"]) <= 86400
    assert len(upstream.requests) == sent, "a refused call must not reach the provider"

    # Another user, and calls with no user, are not limited by alice's budget.
    assert chat(openai_client, "bob").choices[0].message.content == mock.REPLY
    assert chat(openai_client).choices[0].message.content == mock.REPLY

    rows = read_rows(org.id, expect=5)
    refused_row = [r for r in rows if r["status_code"] == 429]
    assert len(refused_row) == 1
    assert refused_row[0]["user_id"] == "alice"
    assert "Budget reached" in refused_row[0]["error_message"]
    assert cost_of(refused_row[0]) == 0
    # The counter is the log's own cost of alice's two calls.
    assert enforce.current_value(rule_of(budget)) == to_units(CALL * 2)


def test_each_end_user_budget_counts_every_user_on_their_own(
    live_db, upstream, provider_keys, openai_client, org
):
    budget = budgets.create_budget(org, scope="user", metric="usd_day", limit=CALL, user_id="")
    chat(openai_client, "u1")
    settled(budget, CALL, "u1")
    with pytest.raises(openai.RateLimitError) as refused:
        chat(openai_client, "u1")
    assert "user u1" in refused.value.response.json()["error"]
    chat(openai_client, "u2")


def test_requests_per_minute_of_an_api_key(live_db, upstream, provider_keys, openai_client, api_key, org):
    budgets.create_budget(org, scope="api_key", metric="rpm", limit="3", api_key=api_key[0])
    for _ in range(3):
        chat(openai_client)
    with pytest.raises(openai.RateLimitError) as refused:
        chat(openai_client)
    assert "3 requests per minute" in refused.value.response.json()["error"]
    assert 1 <= int(refused.value.response.headers["retry-after"]) <= 60


def test_a_project_monthly_budget_through_the_anthropic_sdk(
    live_db, upstream, provider_keys, anthropic_client, org, project, read_rows, alerts
):
    budget = budgets.create_budget(org, scope="project", metric="usd_month", limit="0.001", project=project)
    anthropic_client.messages.create(model="claude-haiku-4-5", max_tokens=256, messages=MESSAGES)
    [row] = read_rows(org.id, expect=1)
    assert cost_of(row) > Decimal("0.001")  # haiku: more than the budget in one call
    with pytest.raises(anthropic.RateLimitError) as refused:
        anthropic_client.messages.create(model="claude-haiku-4-5", max_tokens=256, messages=MESSAGES)
    assert "project Default" in refused.value.response.json()["error"]
    assert "monthly budget" in refused.value.response.json()["error"]
    assert (str(budget.id), 80, "") in alerts and (str(budget.id), 100, "") in alerts


def test_a_stream_counts_an_estimate_while_in_flight_and_its_cost_when_done(
    live_db, upstream, provider_keys, openai_client, org, project, read_rows
):
    budget = budgets.create_budget(org, scope="project", metric="usd_day", limit="5", project=project)
    rule = rule_of(budget)
    chat(openai_client)  # the proxy learns the model's price from its first row
    settled(budget, CALL)
    before = enforce.current_value(rule)
    assert before == to_units(CALL)

    # In flight: admitted with an estimate from the prompt's size and max_tokens.
    import asyncio

    refusal, hold = asyncio.run(enforce.admit((rule,), "", "openai", "gpt-4o-mini", 400, {"max_tokens": 1000}))
    assert refusal is None
    estimated = hold[0]
    assert estimated == int(400 * 0.25 * 15 + 1000 * 60)  # 0.15 and 0.60 $/1M in 1e-8 units per token
    assert enforce.current_value(rule) == before + estimated
    enforce.settle(hold, Decimal("0.0002"), "gpt-4o-mini")
    assert enforce.current_value(rule) == before + to_units(Decimal("0.0002"))

    # Through the proxy: a real stream ends up counted at its row's cost, not the estimate.
    stream = openai_client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True, max_tokens=2000,
        stream_options={"include_usage": True})
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    rows = read_rows(org.id, expect=2)
    assert rows[-1]["stream"] is True
    assert enforce.current_value(rule) == before + to_units(Decimal("0.0002")) + to_units(cost_of(rows[-1]))


def test_calls_sampled_out_of_the_log_still_count(live_db, upstream, provider_keys, openai_client, org, project):
    budget = budgets.create_budget(org, scope="project", metric="usd_day", limit="5", project=project)
    chat(openai_client, extra_headers={"x-spanlens-sample": "drop"})
    settled(budget, CALL)
    chat(openai_client, extra_headers={"x-spanlens-sample": "drop"})
    import time

    deadline = time.monotonic() + 5
    while enforce.current_value(rule_of(budget)) < to_units(CALL * 2) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert enforce.current_value(rule_of(budget)) == to_units(CALL * 2)


def test_a_budget_starts_from_the_spend_already_in_the_log(
    live_db, upstream, provider_keys, openai_client, org, project, read_rows
):
    chat(openai_client, "carol")
    chat(openai_client, "carol")
    read_rows(org.id, expect=2)
    budget = budgets.create_budget(org, scope="user", metric="usd_day", limit=CALL * 2, user_id="carol")
    assert enforce.current_value(rule_of(budget)) == to_units(CALL * 2)
    with pytest.raises(openai.RateLimitError):
        chat(openai_client, "carol")


def test_raising_a_budget_lets_the_user_through_at_once(live_db, upstream, provider_keys, openai_client, org):
    budget = budgets.create_budget(org, scope="user", metric="usd_day", limit=CALL, user_id="dave")
    chat(openai_client, "dave")
    settled(budget, CALL, "dave")
    with pytest.raises(openai.RateLimitError):
        chat(openai_client, "dave")
    budgets.set_limit(budget, CALL * 10)
    chat(openai_client, "dave")
    budgets.delete_budget(budget)
    chat(openai_client, "dave")


def test_budgets_of_one_organization_never_limit_another(
    live_db, upstream, provider_keys, openai_client, org, other_org_and_project, spanlens_server
):
    other_org, other_project = other_org_and_project
    services.add_provider_key(other_project, "openai", mock.OPENAI_KEY, "theirs")
    theirs = services.create_api_key(other_project, "theirs").raw_key
    # Both organizations have a user called "eve"; only ours is limited.
    budgets.create_budget(org, scope="user", metric="rpm", limit="1", user_id="eve")
    budgets.create_budget(org, scope="user", metric="rpm", limit="1", user_id="")
    chat(openai_client, "eve")
    with pytest.raises(openai.RateLimitError):
        chat(openai_client, "eve")
    with openai.OpenAI(base_url=f"{spanlens_server.url}/proxy/openai/v1", api_key=theirs, max_retries=0) as other:
        for _ in range(3):
            chat(other, "eve")

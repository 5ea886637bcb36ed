"""Where each row's cost comes from, and prices: 1-hour cache writes, fine-tuned names,
unpriced models shown as such (never $0) and priced from /settings/prices/."""
import json
from decimal import Decimal

import pytest
from django.test import Client

from spanlens.core import pricing
from spanlens.core.models import AuditEvent, Membership, ModelPrice, UnpricedModel
from tests import mock_upstream as mock
from tests.costs import cost_of, usd

MESSAGES = [{"role": "user", "content": "Why is the sky blue?"}]
HTMX = {"HX-Request": "true"}


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_anthropic_one_hour_cache_writes_bill_at_twice_the_input_rate(
    live_db, upstream, provider_keys, anthropic_client, org, read_rows
):
    message = anthropic_client.messages.create(model="claude-sonnet-4-5+cached-1h", max_tokens=64, messages=MESSAGES)
    assert message.usage.cache_creation.ephemeral_1h_input_tokens == 2000

    [row] = read_rows(org.id, expect=1)
    assert (row["cache_write_tokens"], row["cache_read_tokens"]) == (3000, 1000)
    # claude-sonnet-4-5: $3 in, $3.75 5-minute write, $6 1-hour write, $0.30 read, $15 out.
    assert cost_of(row) == usd((200, "3"), (1000, "3.75"), (2000, "6"), (1000, "0.3"), (300, "15"))
    assert row["cost_source"] == "reported"


def test_a_streamed_one_hour_cache_write_is_billed_the_same(
    live_db, upstream, provider_keys, anthropic_client, org, read_rows
):
    with anthropic_client.messages.stream(model="claude-sonnet-4-5+cached-1h", max_tokens=64, messages=MESSAGES) as s:
        s.get_final_message()

    [row] = read_rows(org.id, expect=1)
    assert cost_of(row) == usd((200, "3"), (1000, "3.75"), (2000, "6"), (1000, "0.3"), (300, "15"))


def test_a_fine_tuned_model_is_billed_at_its_base_fine_tune_rate(
    live_db, upstream, provider_keys, openai_client, org, read_rows
):
    openai_client.chat.completions.create(model="ft:gpt-4o-mini-2024-07-18:acme::abc123", messages=MESSAGES)

    [row] = read_rows(org.id, expect=1)
    assert row["model"] == "ft:gpt-4o-mini-2024-07-18:acme::abc123"
    # ft:gpt-4o-mini-2024-07-18: $0.30 in, $1.20 out per 1M.
    assert cost_of(row) == usd((1200, "0.3"), (300, "1.2"))
    assert row["cost_source"] == "reported"


def test_fine_tuned_names_fall_back_to_the_fine_tune_then_the_base_model(live_db):
    ft = pricing.find_price("openai", "ft:gpt-4o-2024-11-20:acme:support:B1x2")
    assert ft == pricing.find_price("openai", "ft:gpt-4o-2024-11-20")
    # The seed's shifted value is back where OpenAI lists it: cached input.
    assert (ft.cache_read_per_1m, ft.cache_write_per_1m) == (Decimal("1.875"), None)
    # No fine-tune rate for this base: the base model's price.
    assert pricing.find_price("openai", "ft:gpt-4o-mini:acme::x") == pricing.find_price("openai", "gpt-4o-mini")


def test_the_seed_prices_the_readmes_models_once_each(live_db):
    assert ModelPrice.objects.filter(provider="gemini", model="gemini-exp-1206").count() == 1
    assert ModelPrice.objects.get(provider="gemini", model="gemini-exp-1206").input_per_1m == Decimal("0.3")
    haiku = pricing.find_price("anthropic", "claude-3-5-haiku-20241022")
    assert (haiku.input_per_1m, haiku.output_per_1m, haiku.cache_write_1h_per_1m) == (
        Decimal("0.8"), Decimal("4"), Decimal("1.6"))
    assert pricing.find_price("gemini", "gemini-2.0-flash").input_per_1m == Decimal("0.1")
    for price in ModelPrice.objects.filter(provider="anthropic"):
        assert price.cache_write_1h_per_1m == 2 * price.input_per_1m


def test_an_unpriced_model_is_unknown_and_never_shown_as_zero(
    live_db, owner, upstream, provider_keys, openai_client, org, read_rows
):
    for _ in range(2):
        openai_client.chat.completions.create(
            model="my-private-model", messages=MESSAGES, extra_headers={"x-spanlens-user": "alice"})
    openai_client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, extra_headers={"x-spanlens-user": "bob"})
    rows = read_rows(org.id, expect=3)
    unpriced = [r for r in rows if r["model"] == "my-private-model"]
    assert [(r["cost_usd"], r["cost_source"]) for r in unpriced] == [(None, "unknown")] * 2

    client = signed_in(owner)
    users = client.get("/users/").content.decode()
    alice = users[users.index('data-user-id="alice"'):]
    alice = alice[:alice.index("</tr>")]
    assert "unpriced (2)" in alice and "$0.00" not in alice
    page = client.get("/requests/").content.decode()
    assert "data-unpriced-banner" in page and "2 calls in the last 24 h" in page
    assert "+ 2 unpriced" in page  # the spend stat says what it leaves out
    drawer = client.get(f"/requests/{unpriced[0]['id']}/drawer/", headers=HTMX).content.decode()
    assert 'data-cost-source="unknown"' in drawer and "$0.00" not in drawer


def test_the_prices_page_lists_unpriced_models_and_one_form_prices_them(
    live_db, owner, upstream, provider_keys, openai_client, org, read_rows, other_org_and_project
):
    for _ in range(3):
        openai_client.chat.completions.create(model="my-private-model", messages=MESSAGES)
    read_rows(org.id, expect=3)
    client = signed_in(owner)

    html = client.get("/settings/prices/").content.decode()
    assert 'data-unpriced-model="openai/my-private-model"' in html
    row = UnpricedModel.objects.get(organization=org, model="my-private-model")
    assert (row.calls, row.calls_24h) == (3, 3)
    # Another organization's traffic is not listed for this one.
    assert not UnpricedModel.objects.filter(organization=other_org_and_project[0]).exists()

    response = client.post("/settings/prices/", {
        "provider": "openai", "model": "my-private-model", "input_per_1m": "2", "output_per_1m": "8"})
    assert response.status_code == 302
    assert 'data-unpriced-model="openai/my-private-model"' not in client.get("/settings/prices/").content.decode()
    event = AuditEvent.objects.get(organization=org, action="model_price.create")
    assert event.actor == owner and event.details["after"]["input_per_1m"] == "2"

    openai_client.chat.completions.create(model="my-private-model", messages=MESSAGES)
    newest = read_rows(org.id, expect=4)[-1]
    assert cost_of(newest) == usd((1200, "2"), (300, "8")) and newest["cost_source"] == "reported"


def test_a_bad_price_is_a_form_error(live_db, owner, org):
    response = signed_in(owner).post("/settings/prices/", {
        "provider": "openai", "model": "x", "input_per_1m": "cheap", "output_per_1m": "-1"})
    assert response.status_code == 400
    assert "input per 1m must be a number" in response.content.decode()
    assert not ModelPrice.objects.filter(model="x").exists()


@pytest.mark.parametrize("role", [Membership.Role.MEMBER, Membership.Role.VIEWER])
def test_only_owners_and_admins_change_prices(live_db, org, role):
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user(f"u-{role}", f"{role}@example.com", "pw-12345678")
    Membership.objects.create(user=user, organization=org, role=role)
    client = signed_in(user)
    assert client.get("/settings/prices/").status_code == 200
    response = client.post("/settings/prices/", {"provider": "openai", "model": "x", "input_per_1m": "1",
                                                 "output_per_1m": "1"})
    assert response.status_code == 403
    assert not ModelPrice.objects.filter(model="x").exists()


def test_the_beat_task_records_unpriced_models_per_organization(
    live_db, upstream, provider_keys, openai_client, org, read_rows
):
    from spanlens.core import tasks

    openai_client.chat.completions.create(model="another-private-model", messages=MESSAGES)
    read_rows(org.id, expect=1)
    assert tasks.refresh_unpriced_models_for(organization_id=str(org.id)) == 1
    assert UnpricedModel.objects.get(organization=org).model == "another-private-model"


def test_openrouter_cost_is_taken_from_its_usage(
    live_db, spanlens_server, upstream, project, sl_key, org, read_rows
):
    import openai

    from spanlens.core import services

    services.add_provider_key(project, "openrouter", mock.COMPAT_KEYS["openrouter"], "OpenRouter")
    with openai.OpenAI(base_url=f"{spanlens_server.url}/proxy/openrouter/v1", api_key=sl_key, max_retries=0) as c:
        c.chat.completions.create(model="anthropic/claude-3.5-sonnet", messages=MESSAGES)

    [row] = read_rows(org.id, expect=1)
    assert cost_of(row) == Decimal(str(mock.OPENROUTER_COST))
    assert row["cost_source"] == "reported"
    assert json.loads(row["response_body"])["usage"]["cost"] == mock.OPENROUTER_COST


def test_an_admin_adds_missing_prices_but_only_a_superuser_changes_one(live_db, owner, org):
    from django.contrib.auth import get_user_model

    client = signed_in(owner)
    response = client.post("/settings/prices/", {"provider": "openai", "model": "gpt-4o-mini",
                                                 "input_per_1m": "0", "output_per_1m": "0"})
    assert response.status_code == 400
    assert "already has a price" in response.content.decode()
    assert pricing.find_price("openai", "gpt-4o-mini").input_per_1m == Decimal("0.15")

    root = get_user_model().objects.create_superuser("root", "root@example.com", "pw-root-12345")
    Membership.objects.create(user=root, organization=org, role=Membership.Role.OWNER)
    response = signed_in(root).post("/settings/prices/", {"provider": "openai", "model": "gpt-4o-mini",
                                                          "input_per_1m": "0.2", "output_per_1m": "0.8"})
    assert response.status_code == 302
    assert pricing.find_price("openai", "gpt-4o-mini").input_per_1m == Decimal("0.2")
    event = AuditEvent.objects.get(action="model_price.update")
    assert event.details["before"]["input_per_1m"] == "0.15"

"""/budgets for the owner, a viewer and an outsider: bad input is a form error (never a 500),
and nobody sees or changes another organization's budgets."""
from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from spanlens.budgets import services as budgets
from spanlens.budgets.models import Budget


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def owner_client(owner):
    return client_for(owner)


def create(client, **form):
    return client.post("/budgets/", {"action": "create", **form})


def test_the_owner_adds_a_daily_budget_for_one_user(owner_client, org):
    response = create(owner_client, scope="user", user_id="alice", metric="usd_day", limit="$1")
    assert response.status_code == 302
    [budget] = Budget.objects.filter(organization=org)
    assert (budget.scope, budget.user_id, budget.metric, budget.limit) == ("user", "alice", "usd_day", Decimal(1))
    page = owner_client.get("/budgets/")
    assert page.status_code == 200
    assert b"User alice" in page.content and b"$0.00" in page.content


BAD_FORMS = [
    ({"scope": "user", "metric": "usd_day", "limit": ""}, "Enter a limit"),
    ({"scope": "user", "metric": "usd_day", "limit": "one dollar"}, "must be a number"),
    ({"scope": "user", "metric": "usd_day", "limit": "-5"}, "more than zero"),
    ({"scope": "user", "metric": "usd_day", "limit": "0"}, "more than zero"),
    ({"scope": "user", "metric": "usd_day", "limit": "NaN"}, "more than zero"),
    ({"scope": "user", "metric": "usd_day", "limit": "1e400"}, "up to $1,000,000,000"),
    ({"scope": "user", "metric": "usd_day", "limit": "0.000000001"}, "eight decimals"),
    ({"scope": "user", "metric": "rpm", "limit": "2.5"}, "whole number"),
    ({"scope": "user", "metric": "weekly", "limit": "1"}, "kind of limit"),
    ({"scope": "team", "metric": "usd_day", "limit": "1"}, "what the budget limits"),
    ({"scope": "project", "metric": "usd_day", "limit": "1"}, "Choose the project"),
    ({"scope": "api_key", "metric": "usd_day", "limit": "1"}, "Choose the API key"),
    ({"scope": "user", "metric": "usd_day", "limit": "1", "user_id": "u" * 300}, "longer than 256"),
    ({"action": "explode"}, "Unknown action"),
]


def test_bad_input_is_a_form_error(owner_client, org):
    for form, message in BAD_FORMS:
        response = owner_client.post("/budgets/", {"action": "create", **form})
        assert response.status_code == 400, form
        assert message in response.content.decode(), form
        assert b"data-form-error" in response.content
    assert not Budget.objects.exists()


def test_a_bad_new_limit_is_a_form_error_and_keeps_the_old_one(owner_client, org):
    budget = budgets.create_budget(org, scope="user", metric="usd_day", limit="1", user_id="alice")
    response = owner_client.post("/budgets/", {"action": "update", "budget_id": str(budget.id), "limit": "lots"})
    assert response.status_code == 400
    budget.refresh_from_db()
    assert budget.limit == Decimal(1)
    assert owner_client.post("/budgets/", {"action": "update", "budget_id": "not-a-uuid", "limit": "2"}).status_code == 404


def test_a_viewer_sees_budgets_but_cannot_change_them(viewer, org):
    budget = budgets.create_budget(org, scope="user", metric="usd_day", limit="1", user_id="alice")
    client = client_for(viewer)
    page = client.get("/budgets/")
    assert page.status_code == 200 and b"User alice" in page.content and b"Add a budget" not in page.content
    assert client.post("/budgets/", {"action": "delete", "budget_id": str(budget.id)}).status_code == 403
    assert create(client, scope="user", metric="usd_day", limit="1").status_code == 403
    assert Budget.objects.count() == 1


def test_an_outsider_neither_sees_nor_changes_another_organizations_budgets(
    outsider, org, project, api_key, other_org_and_project
):
    budget = budgets.create_budget(org, scope="project", metric="usd_month", limit="50", project=project)
    client = client_for(outsider)
    page = client.get("/budgets/")
    assert page.status_code == 200 and str(budget.id).encode() not in page.content
    assert b"Project Default" not in page.content
    for action in ("update", "delete"):
        response = client.post("/budgets/", {"action": action, "budget_id": str(budget.id), "limit": "1"})
        assert response.status_code == 404
    # Nor aim a budget of their own at our project or key.
    assert create(client, scope="project", project_id=str(project.id), metric="usd_day", limit="1").status_code == 404
    assert create(client, scope="api_key", api_key_id=str(api_key[0].id), metric="rpm", limit="1").status_code == 404
    budget.refresh_from_db()
    assert budget.limit == Decimal(50)
    assert not Budget.objects.filter(organization=other_org_and_project[0]).exists()


def test_the_services_refuse_a_project_of_another_organization(org, other_org_and_project):
    with pytest.raises(budgets.BudgetError):
        budgets.create_budget(org, scope="project", metric="usd_day", limit="1", project=other_org_and_project[1])


def test_changes_are_audited(owner_client, org):
    from spanlens.core.models import AuditEvent

    create(owner_client, scope="user", user_id="alice", metric="usd_day", limit="1")
    budget = Budget.objects.get()
    owner_client.post("/budgets/", {"action": "update", "budget_id": str(budget.id), "limit": "2"})
    owner_client.post("/budgets/", {"action": "delete", "budget_id": str(budget.id)})
    actions = list(AuditEvent.objects.filter(organization=org).values_list("action", flat=True))
    assert {"budget.create", "budget.update", "budget.delete"} <= set(actions)


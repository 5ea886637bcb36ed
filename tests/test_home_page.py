"""The home page: usage stacked by a dimension, forecast, top spenders, the panels, and tenants kept apart."""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest
from django.test import Client

from spanlens.requestlog import queries
from tests.seed import make_row


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _recent(org, project, n, *, rng, hours=20, **extra):
    now = datetime.now(timezone.utc)
    return [make_row(org, project, rng=rng, created_at=now - timedelta(minutes=rng.randint(1, hours * 60)), **extra)
            for _ in range(n)]


@pytest.fixture
def traffic(org, project, other_org_and_project):
    rng = random.Random(3)
    rows = _recent(org, project, 60, rng=rng, provider="openai", model="gpt-4o-mini", user_id="alice",
                   status_code=200)
    rows += _recent(org, project, 20, rng=rng, provider="anthropic", model="claude-3-5-haiku-20241022",
                    user_id="bob", status_code=200)
    other_org, other_project = other_org_and_project
    theirs = _recent(other_org, other_project, 30, rng=rng, provider="gemini", model="outsider-model",
                     user_id="mallory", status_code=200)
    queries.insert_requests(rows + theirs)
    return rows


def test_home_needs_a_sign_in(db):
    response = Client().get("/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_home_stacks_traffic_by_model_and_switches_dimension(owner, traffic):
    client = signed_in(owner)
    page = client.get("/").content.decode()
    assert "gpt-4o-mini" in page and "claude-3-5-haiku-20241022" in page
    assert 'data-chart="requests"' in page and 'data-chart="spend"' in page
    # Every column says what it holds when hovered.
    assert "data-tip=" in page and "gpt-4o-mini: " in page
    by_provider = client.get("/?range=7d&by=provider").content.decode()
    assert 'class="on" data-by="provider"' in by_provider and 'class="on" data-range="7d"' in by_provider
    assert "anthropic" in by_provider
    by_user = client.get("/?range=30d&by=user").content.decode()
    assert "alice" in by_user and "bob" in by_user


def test_home_totals_and_top_users(owner, traffic):
    page = signed_in(owner).get("/").content.decode()
    requests_cell = page.split('data-stat="requests"')[1].split('data-stat="spend"')[0]
    assert '<div class="stat-value">80</div>' in requests_cell and "≈" not in requests_cell
    top = page.split('data-panel="top-users"')[1].split("</section>")[0]
    assert top.index("alice") < top.index("bob")


def test_it_checks_the_tenant(owner, traffic):
    page = signed_in(owner).get("/?range=30d&by=user").content.decode()
    assert "mallory" not in page and "outsider-model" not in page
    page = signed_in(owner).get("/?range=30d&by=model").content.decode()
    assert "outsider-model" not in page


def test_the_outsider_sees_only_their_own(outsider, traffic):
    page = signed_in(outsider).get("/?range=30d&by=user").content.decode()
    assert "mallory" in page and "alice" not in page and "gpt-4o-mini" not in page


def test_panels_show_their_empty_states(owner, org):
    page = signed_in(owner).get("/").content.decode()
    assert "No open anomalies." in page
    assert "No alerts sent recently." in page
    assert "No savings found yet." in page
    assert "No calls in the last 24 h" in page
    assert "needs 3 days of spend" in page


def test_bad_choices_fall_back_to_defaults(owner, traffic):
    response = signed_in(owner).get("/?range=1y&by=nope")
    assert response.status_code == 200
    assert 'class="on" data-range="24h"' in response.content.decode()


def test_sampled_traffic_is_shown_as_an_estimate(owner, org, project):
    rng = random.Random(5)
    rows = _recent(org, project, 10, rng=rng, model="gpt-4o-mini", provider="openai", status_code=200,
                   sample_rate=0.1, cost_usd="0.01000000")
    queries.insert_requests(rows)
    page = signed_in(owner).get("/").content.decode()
    assert "data-sampled-note" in page
    cell = page.split('data-stat="requests"')[1].split('data-stat="spend"')[0]
    assert "≈100" in cell and "10.0% sampled" in cell
    spend = page.split('data-stat="spend"')[1].split('data-stat="errors"')[0]
    assert "≈$1.00" in spend


def test_the_forecast_appears_with_a_few_days_of_spend(owner, org, project):
    now = datetime.now(timezone.utc)
    rows = []
    for days_ago in range(1, 8):
        for i in range(5):
            rows.append(make_row(org, project, created_at=now.replace(hour=12) - timedelta(days=days_ago, minutes=i),
                                 status_code=200, cost_usd=f"{0.1 * (8 - days_ago):.8f}"))
    queries.insert_requests(rows)
    page = signed_in(owner).get("/").content.decode()
    assert "data-forecast>" in page and "prediction interval" in page


def test_top_prompts_name_their_versions(owner, org, project):
    from evals.prompt_services import create_prompt

    prompt = create_prompt(org, project, "support-reply", template="Answer {{question}}")
    version = prompt.versions.get()
    rng = random.Random(9)
    queries.insert_requests(_recent(org, project, 5, rng=rng, status_code=200, prompt_version_id=str(version.id)))
    page = signed_in(owner).get("/").content.decode()
    top = page.split('data-panel="top-prompts"')[1].split("</section>")[0]
    assert "support-reply@1" in top


def test_the_project_chosen_in_the_sidebar_scopes_the_home(owner, org, project, traffic):
    from spanlens.core.models import Project

    staging = Project.objects.create(organization=org, name="Staging")
    rng = random.Random(12)
    queries.insert_requests(_recent(org, staging, 5, rng=rng, model="staging-only-model", provider="openai",
                                    status_code=200))
    client = signed_in(owner)
    assert "staging-only-model" in client.get("/").content.decode()
    client.post("/switch/", {"target": f"{org.id}:{staging.id}", "next": "/"})
    page = client.get("/").content.decode()
    assert "staging-only-model" in page and "gpt-4o-mini" not in page and "· Staging" in page

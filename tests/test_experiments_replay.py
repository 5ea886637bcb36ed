"""Bulk replay: logged requests from three providers re-run on another model, messages
translated to its shape, the originals as a recorded baseline, exact cost totals, the
monthly projection, and only the caller's organization's requests."""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from django.test import Client

from evals import experiment_replay, experiment_results, experiment_runner, experiment_services
from evals.models import Experiment
from spanlens.core import services
from spanlens.core.pricing import compute_cost
from spanlens.requestlog import queries
from tests import mock_upstream as mock
from tests.seed import make_row, request_body, response_body

pytestmark = pytest.mark.usefixtures("live_db")
TARGET = "claude-3-5-haiku-20241022"


def logged(org, project, n=200, seed=3):
    rng = random.Random(seed)
    now = datetime.now(timezone.utc)
    rows = []
    for i in range(n):
        provider = ("openai", "anthropic", "gemini")[i % 3]
        model = {"openai": "gpt-4o", "anthropic": "claude-3-5-sonnet-20241022", "gemini": "gemini-1.5-pro"}[provider]
        question = f"Question {i}: what is {rng.randint(1, 99)} plus {rng.randint(1, 99)}?"
        rows.append(make_row(org, project, provider=provider, model=model, status_code=200, rng=rng,
                             created_at=now - timedelta(hours=i), cost_usd=Decimal("0.0100") + Decimal(i) / 10_000,
                             latency_ms=400 + i, request_body=request_body(provider, model, question),
                             response_body=response_body(provider, model, f"The answer to question {i}.")))
    queries.insert_requests(rows)
    return rows


@pytest.fixture
def keys(upstream, project, settings):
    settings.EVAL_RETRY_BASE_S = 0.01
    settings.EVAL_CONCURRENCY = 8
    return {p: services.add_provider_key(project, p, k, p) for p, k in (
        ("openai", mock.OPENAI_KEY), ("anthropic", mock.ANTHROPIC_KEY), ("gemini", mock.GEMINI_KEY))}


def test_two_hundred_requests_replay_on_another_provider_with_exact_costs(org, project, keys, upstream):
    rows = logged(org, project)
    read = experiment_replay.read_rows(org, {}, retention_days=30)
    assert len(read) == 200
    monthly = experiment_replay.monthly_requests(org, {}, retention_days=30)
    assert monthly == 200
    experiment = experiment_replay.create_replay(
        org, read, candidate={"provider": "anthropic", "model": f"{TARGET}+echo-prompt"}, monthly=monthly)
    assert experiment.kind == Experiment.Kind.REPLAY and experiment.items.count() == 200
    assert experiment.dataset.items.count() == 200  # the originals, kept as a dataset
    run = experiment_services.start_run(experiment)
    assert experiment_runner.execute(str(run.id)) == "completed"
    run.refresh_from_db()

    calls = [r for r in upstream.requests if r.path.endswith("/v1/messages")]
    assert len(calls) == 200  # the baseline was not called again
    for call in calls:
        body = call.json
        assert body["model"] == f"{TARGET}+echo-prompt" and body["max_tokens"] > 0
        assert all(m["role"] in ("user", "assistant") for m in body["messages"])
    from_openai = [c.json for c in calls if "Question 0:" in c.json["messages"][-1]["content"]]
    assert from_openai and from_openai[0]["messages"][-1]["content"].startswith("Question 0:")

    unit = compute_cost("anthropic", TARGET, prompt_tokens=mock.PROMPT_TOKENS,
                        completion_tokens=mock.COMPLETION_TOKENS)
    original_total = sum(float(r["cost_usd"]) for r in rows)
    stats = run.stats
    original, replayed = stats["variants"]
    assert original["cost_usd"] == pytest.approx(original_total, abs=1e-9)
    assert replayed["cost_usd"] == pytest.approx(float(unit) * 200, abs=1e-9)
    assert float(run.cost_usd) == pytest.approx(float(unit) * 200, abs=1e-9)  # only what was paid now
    replay = stats["replay"]
    difference = float(unit) - original_total / 200
    assert replay["difference_per_request"] == pytest.approx(difference, abs=1e-9)
    assert replay["monthly_difference"] == pytest.approx(difference * 200, abs=1e-7)
    assert original["latency_p50"] == pytest.approx(499.5)


def test_replay_on_a_gemini_model_translates_the_system_prompt(org, project, keys, upstream):
    logged(org, project, n=3)
    read = experiment_replay.read_rows(org, {"provider": "anthropic"}, retention_days=30)
    experiment = experiment_replay.create_replay(org, read, candidate={"provider": "gemini",
                                                                      "model": "gemini-1.5-flash+echo-prompt"})
    run = experiment_services.start_run(experiment)
    experiment_runner.execute(str(run.id))
    [call] = [r for r in upstream.requests if "generateContent" in r.path]
    assert call.json["systemInstruction"] == {"parts": [{"text": "You are terse."}]}
    assert call.json["contents"][0]["role"] == "user"
    table = experiment_results.table(run)
    assert table[0]["cells"][1]["results"][0].output.startswith("Answer: Question 1:")


def test_the_replay_page_starts_from_the_requests_filters(owner, org, project, keys, other_org_and_project,
                                                          monkeypatch):
    monkeypatch.setattr(experiment_services, "enqueue", lambda run_id: None)
    logged(org, project, n=6)
    other_org, other_project = other_org_and_project
    logged(other_org, other_project, n=4, seed=9)
    client = Client()
    client.force_login(owner)
    assert b"Replay these on" in client.get("/requests/").content
    page = client.get("/experiments/replay/?provider=openai")
    assert page.status_code == 200 and b'data-replay-count>2<' in page.content
    bad = client.post("/experiments/replay/", {"provider": "openai", "target_model": ""})
    assert bad.status_code == 400 and b"choose a model" in bad.content
    done = client.post("/experiments/replay/", {"target_provider": "anthropic", "target_model": TARGET})
    experiment = Experiment.objects.get(organization=org, kind="replay")
    assert done.status_code == 302 and experiment.items.count() == 6
    assert Experiment.objects.filter(organization=other_org).count() == 0
    assert {str(i.source_request_id) for i in experiment.items.all()}.isdisjoint(
        {str(r["id"]) for r in queries.list_recent_requests(organization_id=str(other_org.id), limit=100)})


def test_the_api_replays_filtered_requests(owner, org, project, keys, monkeypatch):
    import json

    monkeypatch.setattr(experiment_services, "enqueue", lambda run_id: None)
    logged(org, project, n=6)
    client = Client()
    client.force_login(owner)
    created = client.post("/api/v1/experiments/replay", json.dumps(
        {"filters": {"provider": "gemini"}, "provider": "openai", "model": "gpt-4o-mini"}),
        content_type="application/json")
    assert created.status_code == 201, created.content
    data = created.json()["data"]
    assert data["kind"] == "replay" and data["items"] == 2 and data["latest_run"]["status"] == "pending"
    bad = client.post("/api/v1/experiments/replay", json.dumps({"filters": {"status": "purple"}, "model": "x"}),
                      content_type="application/json")
    assert bad.status_code == 400 and bad.json()["field"] == "filters.status"
    none = client.post("/api/v1/experiments/replay", json.dumps({"filters": {"model": "nothing-like-it"},
                                                                "model": "x"}), content_type="application/json")
    assert none.status_code == 400 and none.json()["field"] == "filters"

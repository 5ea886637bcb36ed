"""REST under /api/v1/prompts: shapes, bad input named, and tenant isolation on every endpoint."""
from __future__ import annotations

import pytest

from evals import prompt_services as services
from evals.models import PromptExperiment, PromptLabelMove, PromptVersion
from spanlens.core import services as core_services
from spanlens.prompts import assign_arm


def auth(raw):
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def post(client, path, body, raw=None):
    return client.post(path, body, content_type="application/json", **(auth(raw) if raw else {}))


@pytest.fixture
def raw_key(api_key):
    return api_key[1]


@pytest.fixture
def prompt(org, project, owner):
    prompt = services.create_prompt(org, project, "summarize", template="Summarize {{text}}", actor=owner)
    services.create_version(prompt, template="Summarize briefly: {{text}}", actor=owner)
    services.move_label(prompt, "production", prompt.versions.get(version=1), actor=owner)
    return prompt


def test_it_creates_a_prompt_and_versions_with_an_api_key(client, raw_key, project):
    response = post(client, "/api/v1/prompts", {
        "name": "welcome", "kind": "chat", "commit_note": "v1",
        "messages": [{"role": "system", "content": "Be kind to {{user}}"}, {"role": "user", "content": "{{q}}"}],
        "model_config": {"provider": "openai", "model": "gpt-4o-mini", "temperature": 0.2},
    }, raw_key)
    assert response.status_code == 201, response.content
    data = response.json()["data"]
    assert (data["name"], data["version"], data["kind"]) == ("welcome", 1, "chat")
    assert [v["name"] for v in data["variables"]] == ["user", "q"]
    assert data["header"] == data["id"]
    response = post(client, "/api/v1/prompts/welcome/versions", {"kind": "text", "template": "Hi {{user}}"}, raw_key)
    assert response.status_code == 201 and response.json()["data"]["version"] == 2
    listed = client.get("/api/v1/prompts", **auth(raw_key)).json()
    assert listed["success"] and listed["data"][0]["latest_version"] == 2 and listed["meta"]["total"] == 1
    assert listed["data"][0]["project_id"] == str(project.id)


def test_get_by_version_label_or_latest(client, raw_key, prompt):
    base = "/api/v1/prompts/summarize"
    assert client.get(base, **auth(raw_key)).json()["data"]["version"] == 2
    assert client.get(f"{base}?label=latest", **auth(raw_key)).json()["data"]["version"] == 2
    data = client.get(f"{base}?label=production", **auth(raw_key)).json()["data"]
    assert data["version"] == 1 and data["labels"] == ["production"] and data["template"] == "Summarize {{text}}"
    assert client.get(f"{base}?version=2", **auth(raw_key)).json()["data"]["version"] == 2
    missing = client.get(f"{base}?label=staging", **auth(raw_key))
    assert missing.status_code == 404 and "staging" in missing.json()["error"]


def test_moving_a_label_is_recorded(client, raw_key, prompt):
    response = post(client, "/api/v1/prompts/summarize/labels/production", {"version": 2}, raw_key)
    assert response.status_code == 200, response.content
    assert response.json()["data"]["labels"] == {"production": 2}
    history = client.get("/api/v1/prompts/summarize/labels", **auth(raw_key)).json()["data"]["history"]
    assert [(h["label"], h["from"], h["to"]) for h in history] == [("production", 1, 2), ("production", None, 1)]


@pytest.mark.parametrize("path, body, field", [
    ("/api/v1/prompts", {"name": "bad name!", "template": "x"}, "name"),
    ("/api/v1/prompts", {"name": "ok", "template": ""}, "template"),
    ("/api/v1/prompts", {"name": "summarize", "template": "x"}, "name"),
    ("/api/v1/prompts/summarize/versions", {"kind": "chat", "messages": "hi"}, "messages"),
    ("/api/v1/prompts/summarize/versions", {"template": "x", "model_config": {"max_tokens": -1}},
     "model_config.max_tokens"),
    ("/api/v1/prompts/summarize/labels/production", {"version": "two"}, "version"),
    ("/api/v1/prompts/summarize/labels/production", {"version": 9}, "version"),
    ("/api/v1/prompts/summarize/labels/latest", {"version": 1}, "label"),
    ("/api/v1/prompts/summarize/experiments", {"arm_b": 1}, "arm_b"),
    ("/api/v1/prompts/summarize/experiments", {"arm_b": 2, "split_b": 100}, "split_b"),
    ("/api/v1/prompts/summarize/experiments", {"arm_b": 2, "assignment_key": "ip"}, "assignment_key"),
    ("/api/v1/prompts/summarize/experiments", {"arm_b": 2, "ends_at": "soon"}, "ends_at"),
    ("/api/v1/prompts/summarize/experiments", {"arm_b": 2, "label": "staging"}, "label"),
])
def test_bad_input_is_a_400_naming_the_field(client, raw_key, prompt, path, body, field):
    response = post(client, path, body, raw_key)
    assert response.status_code == 400, response.content
    assert response.json()["success"] is False
    assert response.json()["error"].startswith(f"{field}:"), response.json()


def test_bad_query_parameters_are_400s(client, raw_key, prompt):
    for query, field in (("version=x", "version"), ("version=1&label=production", "version"), ("label=No!", "label")):
        response = client.get(f"/api/v1/prompts/summarize?{query}", **auth(raw_key))
        assert response.status_code == 400 and response.json()["error"].startswith(f"{field}:")
    assert post(client, "/api/v1/prompts", "[1, 2]", raw_key).status_code == 400


def test_a_running_experiment_serves_both_arms_or_the_assigned_one(client, raw_key, prompt):
    response = post(client, "/api/v1/prompts/summarize/experiments",
                    {"arm_b": 2, "split_b": 30, "assignment_key": "session_id"}, raw_key)
    assert response.status_code == 201, response.content
    experiment = response.json()["data"]
    assert (experiment["arm_a"], experiment["arm_b"], experiment["running"]) == (1, 2, True)
    data = client.get("/api/v1/prompts/summarize?label=production", **auth(raw_key)).json()["data"]
    assert data["experiment"]["split_b"] == 30
    assert (data["experiment"]["arm_a"]["version"], data["experiment"]["arm_b"]["version"]) == (1, 2)
    for session in ("s1", "s2", "s3", "s4"):
        served = client.get(f"/api/v1/prompts/summarize?label=production&sessionId={session}",
                            **auth(raw_key)).json()["data"]
        assert served["arm"] == assign_arm(experiment["id"], session, 30)
        assert served["version"] == {"A": 1, "B": 2}[served["arm"]]
    # A second experiment on the same label is refused while one runs.
    again = post(client, "/api/v1/prompts/summarize/experiments", {"arm_b": 2}, raw_key)
    assert again.status_code == 400 and again.json()["error"].startswith("label:")
    detail = client.get(f"/api/v1/prompts/summarize/experiments/{experiment['id']}", **auth(raw_key)).json()["data"]
    assert detail["results"]["verdict_kind"] == "wait" and detail["results"]["arm_b"]["version"] == 2
    assert [c["metric"] for c in detail["results"]["comparisons"]] == ["latency", "cost", "error_rate"]
    stopped = post(client, f"/api/v1/prompts/summarize/experiments/{experiment['id']}/stop", {}, raw_key)
    assert stopped.json()["data"]["running"] is False
    assert "experiment" not in client.get("/api/v1/prompts/summarize?label=production", **auth(raw_key)).json()["data"]


def test_an_experiment_past_its_end_date_stops_serving(client, raw_key, prompt):
    from datetime import timedelta

    from django.utils import timezone

    experiment = services.start_experiment(prompt, arm_b=prompt.versions.get(version=2),
                                           ends_at=timezone.now() + timedelta(hours=1))
    PromptExperiment.objects.filter(id=experiment.id).update(ends_at=timezone.now() - timedelta(seconds=1))
    data = client.get("/api/v1/prompts/summarize?label=production&userId=u1", **auth(raw_key)).json()["data"]
    assert "arm" not in data and data["version"] == 1


def test_archiving_through_the_api(client, raw_key, prompt):
    response = post(client, "/api/v1/prompts/summarize/versions/2/archive", {}, raw_key)
    assert response.status_code == 200 and response.json()["data"]["archived"] is True
    assert client.get("/api/v1/prompts/summarize", **auth(raw_key)).json()["data"]["version"] == 1
    refused = post(client, "/api/v1/prompts/summarize/versions/1/archive", {}, raw_key)
    assert refused.status_code == 400 and refused.json()["error"].startswith("version:")


# --- tenant isolation ----------------------------------------------------------------

ENDPOINTS = [
    ("get", "/api/v1/prompts/summarize", None),
    ("get", "/api/v1/prompts/summarize/versions", None),
    ("post", "/api/v1/prompts/summarize/versions", {"template": "x"}),
    ("post", "/api/v1/prompts/summarize/versions/1/archive", {}),
    ("get", "/api/v1/prompts/summarize/labels", None),
    ("post", "/api/v1/prompts/summarize/labels/production", {"version": 2}),
    ("get", "/api/v1/prompts/summarize/experiments", None),
    ("post", "/api/v1/prompts/summarize/experiments", {"arm_b": 2}),
    ("get", "/api/v1/prompts/summarize/experiments/{exp}", None),
    ("post", "/api/v1/prompts/summarize/experiments/{exp}/stop", {}),
]


@pytest.fixture
def experiment(prompt):
    return services.start_experiment(prompt, arm_b=prompt.versions.get(version=2))


def call(client, method, path, body, raw=None):
    if method == "get":
        return client.get(path, **(auth(raw) if raw else {}))
    return post(client, path, body, raw)


def test_an_outsiders_key_sees_nothing(client, prompt, experiment, other_org_and_project):
    _, other_project = other_org_and_project
    raw = core_services.create_api_key(other_project).raw_key
    for method, path, body in ENDPOINTS:
        response = call(client, method, path.format(exp=experiment.id), body, raw)
        assert response.status_code == 404, (path, response.content)
    assert client.get("/api/v1/prompts", **auth(raw)).json()["data"] == []
    assert PromptVersion.objects.filter(prompt=prompt).count() == 2


def test_a_signed_in_outsider_sees_nothing(client, prompt, experiment, outsider, other_org_and_project):
    client.force_login(outsider)
    for method, path, body in ENDPOINTS:
        response = call(client, method, path.format(exp=experiment.id), body)
        assert response.status_code == 404, (path, response.content)
    assert client.get("/api/v1/prompts").json()["data"] == []


def test_a_viewer_reads_but_cannot_write(client, prompt, experiment, viewer):
    client.force_login(viewer)
    for method, path, body in ENDPOINTS:
        response = call(client, method, path.format(exp=experiment.id), body)
        assert response.status_code == (200 if method == "get" else 403), (path, response.content)
    assert post(client, "/api/v1/prompts", {"name": "new-one", "template": "x"}).status_code == 403
    assert PromptVersion.objects.filter(prompt=prompt).count() == 2
    assert PromptExperiment.objects.get(id=experiment.id).stopped_at is None


def test_a_member_writes_through_the_session(client, prompt, member):
    client.force_login(member)
    response = post(client, "/api/v1/prompts/summarize/versions", {"template": "by member {{text}}"})
    assert response.status_code == 201
    assert PromptVersion.objects.get(prompt=prompt, version=3).author == member


def test_an_experiment_of_another_prompt_is_not_found_by_id(client, raw_key, prompt, experiment, org, project):
    other = services.create_prompt(org, project, "other", template="x")
    response = client.get(f"/api/v1/prompts/other/experiments/{experiment.id}", **auth(raw_key))
    assert response.status_code == 404
    assert PromptLabelMove.objects.filter(prompt=other).count() == 0

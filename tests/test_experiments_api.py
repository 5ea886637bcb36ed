"""REST API and pages for experiments: shapes, 400s naming the field, live progress, the
paired verdict on the page, and tenant isolation on every object and endpoint."""
from __future__ import annotations

import json

import pytest
from django.test import Client

from evals import dataset_services, eval_services, experiment_runner, experiment_services, prompt_services
from evals.models import Experiment, ExperimentRun
from spanlens.core import services
from tests import mock_upstream as mock

MODEL = "gpt-4o-mini+echo-prompt"


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def post(client, url, data, **headers):
    return client.post(url, json.dumps(data), content_type="application/json", **headers)


@pytest.fixture
def setup(org, project, owner):
    prompt = prompt_services.create_prompt(org, project, "greeter", template="Greet {{name}}.", actor=owner)
    prompt_services.create_version(prompt, template="Greet {{name}} and mention {{product}}.", actor=owner)
    dataset = dataset_services.create_dataset(org, name="people")
    dataset_services.add_items(dataset, [{"input": {"variables": {"name": n, "product": "Lampify"}},
                                          "expected_output": "Lampify"} for n in ("Ann", "Bo", "Cy", "Di")])
    eval_services.create_evaluator(org, name="mentions", type="contains", config={}, pass_threshold=1)
    return dataset


BODY = {"name": "v1 vs v2", "dataset": "people", "evaluators": ["mentions"],
        "variants": [{"prompt_version": "greeter@1", "model": MODEL}, {"prompt_version": "greeter@2", "model": MODEL}]}


def test_an_experiment_is_created_started_and_read(owner, org, setup, django_capture_on_commit_callbacks,
                                                   monkeypatch):
    queued = []
    monkeypatch.setattr(experiment_services, "enqueue", queued.append)
    client = signed_in(owner)
    with django_capture_on_commit_callbacks(execute=True):
        created = post(client, "/api/v1/experiments", BODY)
    assert created.status_code == 201, created.content
    data = created.json()["data"]
    assert [v["name"] for v in data["variants"]] == ["greeter@1 · gpt-4o-mini+echo-prompt",
                                                     "greeter@2 · gpt-4o-mini+echo-prompt"]
    assert data["items"] == 4 and data["latest_run"]["status"] == "pending" and len(queued) == 1
    listed = client.get("/api/v1/experiments").json()
    assert listed["success"] and [e["name"] for e in listed["data"]] == ["v1 vs v2"]
    detail = client.get(f"/api/v1/experiments/{data['id']}").json()["data"]
    assert detail["runs"][0]["number"] == 1
    rerun = client.post(f"/api/v1/experiments/{data['id']}/runs")
    assert rerun.status_code == 201 and rerun.json()["data"]["number"] == 2


@pytest.mark.parametrize("change,field", [
    ({"name": ""}, "name"),
    ({"dataset": "nope"}, "dataset"),
    ({"variants": [{"model": "a"}]}, "variants"),
    ({"variants": [{"model": "a"}, {"prompt_version": "greeter@2", "temperature": "hot"}]}, "variants[1].temperature"),
    ({"evaluators": ["nope"]}, "evaluators[0]"),
    ({"repetitions": 9}, "repetitions"),
    ({"baseline": 4}, "baseline"),
])
def test_bad_input_is_a_400_naming_the_field(owner, setup, change, field):
    response = post(signed_in(owner), "/api/v1/experiments", {**BODY, **change})
    assert response.status_code == 400
    body = response.json()
    assert body["success"] is False and body["field"] == field and body["error"].startswith(field)


def test_a_body_that_is_not_json_is_a_400(owner, setup):
    response = signed_in(owner).post("/api/v1/experiments", "{", content_type="application/json")
    assert response.status_code == 400 and response.json()["field"] == "body"


def test_viewers_cannot_start_experiments(viewer, setup):
    assert post(signed_in(viewer), "/api/v1/experiments", BODY).status_code == 403


@pytest.fixture
def theirs(other_org_and_project):
    other_org, other_project = other_org_and_project
    dataset = dataset_services.create_dataset(other_org, name="theirs")
    dataset_services.add_items(dataset, [{"input": "hi"}])
    experiment = experiment_services.create_experiment(other_org, name="secret", dataset=dataset,
                                                       variants=[{"model": "a"}, {"model": "b"}])
    run = experiment_services.start_run(experiment)
    return experiment, run


def test_outsiders_get_404_on_every_object_and_endpoint(owner, org, setup, theirs):
    experiment, run = theirs
    client = signed_in(owner)
    base = f"/api/v1/experiments/{experiment.id}"
    for url in (base, f"{base}/runs", f"{base}/runs/{run.id}", f"{base}/runs/{run.id}/results"):
        assert client.get(url).status_code == 404, url
    assert client.delete(base).status_code == 404
    assert client.post(f"{base}/runs").status_code == 404
    assert post(client, f"{base}/runs/{run.id}/outputs", {"outputs": []}).status_code == 404
    assert client.get(f"/experiments/{experiment.id}/").status_code == 404
    assert client.post(f"/experiments/{experiment.id}/rerun/").status_code == 404
    assert client.get("/api/v1/experiments").json()["data"] == []
    assert b"secret" not in client.get("/experiments/").content
    assert ExperimentRun.objects.filter(experiment=experiment).count() == 1


def test_a_run_of_this_org_under_another_experiment_id_is_404(owner, org, setup, theirs):
    experiment = experiment_services.create_experiment(org, name="mine", dataset=setup,
                                                       variants=[{"model": "a"}, {"model": "b"}])
    run = experiment_services.start_run(experiment)
    other, _ = theirs
    assert signed_in(owner).get(f"/api/v1/experiments/{other.id}/runs/{run.id}").status_code == 404


def test_the_api_key_of_another_org_sees_nothing(theirs, api_key):
    experiment, _ = theirs
    response = Client().get(f"/api/v1/experiments/{experiment.id}", HTTP_AUTHORIZATION=f"Bearer {api_key[1]}")
    assert response.status_code == 404


# --- pages ------------------------------------------------------------------------------------

def test_the_form_starts_an_experiment_and_shows_errors(owner, org, setup, monkeypatch):
    monkeypatch.setattr(experiment_services, "enqueue", lambda run_id: None)
    client = signed_in(owner)
    page = client.get("/experiments/")
    assert page.status_code == 200 and b"New experiment" in page.content and b"greeter v2" in page.content
    bad = client.post("/experiments/", {"name": "x", "dataset": str(setup.id), "variant-0-model": "a"})
    assert bad.status_code == 400 and b"give at least two variants" in bad.content
    good = client.post("/experiments/", {"name": "x", "dataset": str(setup.id), "baseline": "0",
                                         "variant-0-prompt_version": "greeter@1", "variant-0-model": MODEL,
                                         "variant-1-prompt_version": "greeter@2", "variant-1-model": MODEL,
                                         "variant-1-temperature": "0.5", "repetitions": "2"})
    experiment = Experiment.objects.get(organization=org, name="x")
    assert good.status_code == 302 and good["Location"] == f"/experiments/{experiment.id}/"
    assert experiment.repetitions == 2 and experiment.variants.get(position=1).settings == {"temperature": 0.5}


@pytest.mark.usefixtures("live_db")
def test_the_page_polls_while_running_then_shows_the_verdict(owner, org, project, setup, upstream, settings):
    services.add_provider_key(project, "openai", mock.OPENAI_KEY, "OpenAI")
    experiment = experiment_services.create_experiment(org, evaluators=["mentions"], **{
        k: v for k, v in BODY.items() if k not in ("evaluators",)})
    run = experiment_services.start_run(experiment)
    client = signed_in(owner)
    pending = client.get(f"/experiments/{experiment.id}/")
    assert b'hx-trigger="every 1s"' in pending.content
    experiment_runner.execute(str(run.id))
    partial = client.get(f"/experiments/{experiment.id}/", HTTP_HX_REQUEST="true")
    html = partial.content.decode()
    assert "every 1s" not in html and "<html" not in html
    assert "better than the baseline by 1.000" in html or "no significant difference" in html
    assert "Answer: Greet Ann and mention Lampify." in html
    assert partial["Cache-Control"] == "no-store"

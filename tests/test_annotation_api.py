"""REST API and pages for annotation: shapes, 400s naming the field, the scoring page and
its lock, and tenant isolation on every object and endpoint."""
from __future__ import annotations

import json

import pytest
from django.test import Client

from evals import annotation_services as ann
from evals.models import Annotation, AnnotationQueue
from tests.test_annotation import judged_run  # noqa: F401


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def post(client, url, data):
    return client.post(url, json.dumps(data), content_type="application/json")


def test_configs_and_queues_are_created_claimed_and_scored(owner, org, judged_run):  # noqa: F811
    run, judge = judged_run
    client = signed_in(owner)
    config = post(client, "/api/v1/score-configs", {"name": "helpful", "kind": "numeric", "min_value": 1,
                                                    "max_value": 5})
    assert config.status_code == 201 and config.json()["data"]["max_value"] == 5
    created = post(client, "/api/v1/annotation-queues", {"name": "q", "score_config": "helpful",
                                                         "source": "experiment", "experiment_run": str(run.id),
                                                         "evaluator": str(judge.id)})
    assert created.status_code == 201, created.content
    queue = created.json()["data"]
    assert queue["progress"]["items"] == 6 and queue["agreement"]["n"] == 0
    base = f"/api/v1/annotation-queues/{queue['id']}"
    item = client.post(f"{base}/next").json()["data"]
    assert item["output"] == "answer 0"
    scored = post(client, f"{base}/items/{item['id']}/annotations", {"value": 4})
    assert scored.status_code == 201 and scored.json()["meta"]["progress"]["reviews"] == 1
    bad = post(client, f"{base}/items/{item['id']}/annotations", {"value": 4})
    assert bad.status_code == 400 and bad.json()["field"] == "item"
    detail = client.get(base).json()["data"]
    assert detail["agreement"]["n"] == 1 and detail["agreement"]["calibrated"] is False
    assert [q["name"] for q in client.get("/api/v1/annotation-queues").json()["data"]] == ["q"]


@pytest.mark.parametrize("body,field", [
    ({"name": "", "source": "experiment"}, "name"),
    ({"name": "q", "score_config": "nope", "source": "experiment"}, "score_config"),
    ({"name": "q", "score_config": "ok", "source": "elsewhere"}, "source"),
    ({"name": "q", "score_config": "ok", "source": "experiment"}, "experiment_run"),
    ({"name": "q", "score_config": "ok", "source": "experiment", "reviewers_per_item": 9}, "reviewers_per_item"),
    ({"name": "q", "score_config": "ok", "source": "requests", "filters": "x"}, "filters"),
])
def test_bad_input_is_a_400_naming_the_field(owner, org, body, field):
    ann.create_score_config(org, name="ok", kind="boolean")
    response = post(signed_in(owner), "/api/v1/annotation-queues", body)
    assert response.status_code == 400 and response.json()["field"] == field


def test_a_bad_value_is_a_400(owner, org, judged_run):  # noqa: F811
    run, _ = judged_run
    queue = ann.create_queue(org, name="q", score_config=ann.create_score_config(org, name="ok", kind="boolean"),
                             source="experiment", experiment_run=run)
    client = signed_in(owner)
    item = client.post(f"/api/v1/annotation-queues/{queue.id}/next").json()["data"]
    response = post(client, f"/api/v1/annotation-queues/{queue.id}/items/{item['id']}/annotations", {"value": "maybe"})
    assert response.status_code == 400 and response.json()["field"] == "value"


def test_the_scoring_page_holds_an_item_and_takes_a_score(owner, member, org, judged_run):  # noqa: F811
    run, judge = judged_run
    config = ann.create_score_config(org, name="tone", kind="categorical", categories=["bad", "fine", "great"])
    queue = ann.create_queue(org, name="tone", score_config=config, source="experiment", experiment_run=run,
                             evaluator=judge)
    client = signed_in(owner)
    page = client.get(f"/annotation/{queue.id}/")
    html = page.content.decode()
    assert page.status_code == 200 and 'data-key="1"' in html and "answer 0" in html
    assert "not calibrated yet" not in html  # nothing scored yet
    other = signed_in(member).get(f"/annotation/{queue.id}/").content.decode()
    assert "answer 1" in other and "answer 0" not in other  # held by owner
    item = queue.items.get(position=0)
    done = client.post(f"/annotation/{queue.id}/", {"item": item.id, "value": "great"})
    assert done.status_code == 302
    assert Annotation.objects.get(item=item).label == "great"
    after = client.get(f"/annotation/{queue.id}/").content.decode()
    assert "not calibrated yet" in after and "1 / 6 items done" in after
    listing = client.get("/annotation/").content.decode()
    assert "tone" in listing and "n = 1" in listing


def test_the_list_page_creates_configs_and_queues(owner, org, judged_run):  # noqa: F811
    run, _ = judged_run
    client = signed_in(owner)
    assert client.post("/annotation/", {"form": "config", "name": "ok", "kind": "boolean"}).status_code == 302
    bad = client.post("/annotation/", {"form": "queue", "name": "", "source": "experiment"})
    assert bad.status_code == 400 and b"name: is required" in bad.content
    from evals.models import ExperimentRun

    ExperimentRun.objects.filter(id=run.id).update(status="completed")
    page = client.get(f"/annotation/?run={run.id}").content.decode()
    assert f'<option value="{run.id}" selected>' in page
    config = org.score_configs.get()
    made = client.post("/annotation/", {"form": "queue", "name": "q", "score_config": str(config.id),
                                        "source": "experiment", "experiment_run": str(run.id)})
    queue = AnnotationQueue.objects.get(organization=org)
    assert made.status_code == 302 and made["Location"] == f"/annotation/{queue.id}/"


def test_outsiders_get_404_on_every_object_and_endpoint(owner, org, other_org_and_project, outsider):
    from evals import dataset_services, experiment_runner, experiment_services
    from evals.models import ExperimentResult

    other_org, _ = other_org_and_project
    dataset = dataset_services.create_dataset(other_org, name="d")
    dataset_services.add_items(dataset, [{"input": "q"}])
    experiment = experiment_services.create_experiment(other_org, name="e", dataset=dataset,
                                                       variants=[{"model": "a"}, {"model": "b"}])
    run = experiment_services.start_run(experiment)
    experiment_runner.prepare(run)
    run.results.update(status=ExperimentResult.Status.DONE, output="secret answer")
    config = ann.create_score_config(other_org, name="theirs", kind="boolean")
    queue = ann.create_queue(other_org, name="theirs", score_config=config, source="experiment", experiment_run=run)
    item = queue.items.first()
    client = signed_in(owner)
    base = f"/api/v1/annotation-queues/{queue.id}"
    assert client.get(base).status_code == 404
    assert client.delete(base).status_code == 404
    assert client.post(f"{base}/next").status_code == 404
    assert post(client, f"{base}/items/{item.id}/annotations", {"value": "yes"}).status_code == 404
    assert client.get(f"/annotation/{queue.id}/").status_code == 404
    assert client.post(f"/annotation/{queue.id}/", {"item": item.id, "value": "yes"}).status_code == 404
    assert client.get("/api/v1/annotation-queues").json()["data"] == []
    assert client.get("/api/v1/score-configs").json()["data"] == []
    assert b"theirs" not in client.get("/annotation/").content
    assert not Annotation.objects.exists()

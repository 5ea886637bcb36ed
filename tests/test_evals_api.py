"""REST API and pages for evaluators, eval runs and datasets: shapes, 400s naming the
field, and tenant isolation on every object and endpoint."""
from __future__ import annotations

import json

import pytest
from django.test import Client

from evals import dataset_services, eval_runner, eval_services
from spanlens.core import services
from tests.seed import make_row

JUDGE = {"criterion": "Relevant answer.", "judge_provider": "openai", "judge_model": "gpt-4o-mini",
         "scale_min": 1, "scale_max": 5}


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def post(client, url, data, **headers):
    return client.post(url, json.dumps(data), content_type="application/json", **headers)


def patch(client, url, data):
    return client.patch(url, json.dumps(data), content_type="application/json")


@pytest.fixture
def bearer(api_key):
    return {"HTTP_AUTHORIZATION": f"Bearer {api_key[1]}"}


def test_evaluators_are_created_listed_and_edited(owner, org):
    client = signed_in(owner)
    created = post(client, "/api/v1/evaluators", {"name": "relevance", "type": "llm_judge", "config": JUDGE,
                                                  "pass_threshold": 0.6})
    assert created.status_code == 201
    body = created.json()
    assert body["success"] is True and body["data"]["config"]["scale_max"] == 5.0
    listed = client.get("/api/v1/evaluators").json()
    assert [e["name"] for e in listed["data"]] == ["relevance"] and listed["meta"]["total"] == 1
    evaluator_id = body["data"]["id"]
    changed = patch(client, f"/api/v1/evaluators/{evaluator_id}", {"pass_threshold": 0.8})
    assert changed.status_code == 200 and changed.json()["data"]["pass_threshold"] == 0.8


@pytest.mark.parametrize("data,field", [
    ({"type": "llm_judge", "config": JUDGE}, "name"),
    ({"name": "x", "type": "vibes", "config": {}}, "type"),
    ({"name": "x", "type": "llm_judge", "config": {**JUDGE, "criterion": ""}}, "config.criterion"),
    ({"name": "x", "type": "llm_judge", "config": {**JUDGE, "judge_provider": "cohere"}}, "config.judge_provider"),
    ({"name": "x", "type": "llm_judge", "config": {**JUDGE, "scale_max": 0}}, "config.scale_max"),
    ({"name": "x", "type": "regex", "config": {"pattern": "("}}, "config.pattern"),
    ({"name": "x", "type": "json_schema", "config": {"schema": {"type": 12}}}, "config.schema"),
    ({"name": "x", "type": "exact_match", "config": {}, "pass_threshold": 2}, "pass_threshold"),
])
def test_bad_evaluators_are_400s_naming_the_field(owner, org, data, field):
    response = post(signed_in(owner), "/api/v1/evaluators", data)
    assert response.status_code == 400
    assert response.json()["success"] is False and response.json()["field"] == field


def test_not_json_is_a_400(owner, org):
    response = signed_in(owner).post("/api/v1/datasets", "{nope", content_type="application/json")
    assert response.status_code == 400 and response.json()["field"] == "body"


def test_datasets_items_import_and_export_over_an_api_key(org, bearer):
    client = Client()
    created = post(client, "/api/v1/datasets", {"name": "support", "description": "FAQ",
                                                "items": [{"input": "Hi", "expected_output": "Hello"}]}, **bearer)
    assert created.status_code == 201
    dataset_id = created.json()["data"]["id"]
    assert post(client, "/api/v1/datasets", {"name": "support"}, **bearer).json()["field"] == "name"
    added = post(client, f"/api/v1/datasets/{dataset_id}/items",
                 {"items": [{"input": {"variables": {"q": "refund"}}, "metadata": {"tier": "pro"}}]}, **bearer)
    assert added.status_code == 201 and added.json()["meta"]["added"] == 1
    bad = post(client, f"/api/v1/datasets/{dataset_id}/items", {"items": [{"input": "ok"}, {"nope": 1}]}, **bearer)
    assert bad.status_code == 400 and bad.json()["field"] == "items[1]"
    csv_text = "question,expected_output\nA?,a\n,b\nC?,c\n"
    refused = post(client, f"/api/v1/datasets/{dataset_id}/import", {"content": csv_text, "format": "csv"}, **bearer)
    assert refused.status_code == 400
    assert refused.json()["errors"] == [{"line": 3, "reason": "has no input: every input column is empty"}]
    preview = post(client, f"/api/v1/datasets/{dataset_id}/import",
                   {"content": csv_text, "format": "csv", "dry_run": True}, **bearer).json()
    assert preview["meta"]["valid"] == 2 and preview["data"]["imported"] == 0
    done = post(client, f"/api/v1/datasets/{dataset_id}/import",
                {"content": csv_text, "format": "csv", "skip_invalid": True}, **bearer)
    assert done.status_code == 201 and done.json()["data"] == {"imported": 2, "skipped": 1}
    items = client.get(f"/api/v1/datasets/{dataset_id}/items", **bearer).json()
    assert items["meta"]["total"] == 4
    item_id = items["data"][0]["id"]
    assert patch_with(client, f"/api/v1/datasets/{dataset_id}/items/{item_id}", {"expected_output": "Hey"},
                      bearer).json()["data"]["expected_output"] == "Hey"
    assert client.delete(f"/api/v1/datasets/{dataset_id}/items/{item_id}", **bearer).status_code == 200
    assert client.get(f"/api/v1/datasets/{dataset_id}", **bearer).json()["data"]["item_count"] == 3


def patch_with(client, url, data, headers):
    return client.patch(url, json.dumps(data), content_type="application/json", **headers)


def test_requests_become_dataset_items_once(owner, org, project):
    from spanlens.requestlog import queries

    rows = [make_row(org, project, provider="openai", model="gpt-4o-mini", status_code=200) for _ in range(3)]
    queries.insert_requests(rows)
    client = signed_in(owner)
    dataset = dataset_services.create_dataset(org, name="from prod")
    url = f"/api/v1/datasets/{dataset.id}/items"
    first = post(client, url, {"request_ids": [r["id"] for r in rows]})
    assert first.status_code == 201 and first.json()["data"]["added"] == 3
    assert post(client, url, {"request_ids": [rows[0]["id"]]}).json()["data"]["added"] == 0
    item = dataset.items.get(source_request_id=rows[0]["id"])
    assert item.input["messages"][-1]["content"].startswith("Please help with the")
    assert item.metadata["output"].startswith("Here is the")


def test_the_drawer_and_a_filtered_list_add_requests_to_a_dataset(owner, org, project):
    from spanlens.requestlog import queries

    rows = [make_row(org, project, provider="anthropic", model="claude-3-5-haiku-20241022", status_code=200)
            for _ in range(4)]
    rows += [make_row(org, project, provider="openai", model="gpt-4o-mini", status_code=200)]
    queries.insert_requests(rows)
    client = signed_in(owner)
    response = client.post("/datasets/add-requests/", {"request_id": rows[-1]["id"], "new_name": "drawer picks",
                                                       "next": "/requests/"})
    assert response.status_code == 302
    dataset = org.datasets.get(name="drawer picks")
    assert dataset.items.count() == 1
    client.post("/datasets/add-requests/", {"dataset": str(dataset.id), "provider": "anthropic", "next": "/requests/"})
    assert dataset.items.count() == 5


def test_runs_over_the_api_report_estimate_progress_and_results(owner, org, project, live_db, upstream, settings):
    from tests import mock_upstream as mock

    services.add_provider_key(project, "openai", mock.OPENAI_KEY, "OpenAI")
    client = signed_in(owner)
    evaluator = eval_services.create_evaluator(org, name="relevance", type="llm_judge", config=JUDGE)
    dataset = dataset_services.create_dataset(org, name="qa")
    dataset_services.add_items(dataset, [{"input": "What colour is grass?", "output": "The colour of grass is green."}])
    estimate = post(client, "/api/v1/eval-runs", {"evaluator": "relevance", "dataset": "qa", "estimate_only": True})
    assert estimate.json()["data"]["estimate"]["samples"] == 1 and estimate.json()["data"]["estimate"]["usd"] > 0
    started = post(client, "/api/v1/eval-runs", {"evaluator": str(evaluator.id), "source": "dataset", "dataset": "qa"})
    assert started.status_code == 201
    run_id = started.json()["data"]["id"]
    eval_runner.execute(run_id)
    detail = client.get(f"/api/v1/eval-runs/{run_id}").json()
    assert detail["data"]["status"] == "completed" and detail["data"]["summary"]["mean"] == 1.0
    assert detail["meta"]["lowest"][0]["reasoning"]
    results = client.get(f"/api/v1/eval-runs/{run_id}/results").json()
    assert results["data"][0]["status"] == "scored" and results["meta"]["total"] == 1
    assert client.get(f"/api/v1/eval-runs/{run_id}/results?status=bogus").json()["field"] == "status"
    retried = post(client, f"/api/v1/eval-runs/{run_id}/retry-failed", {})
    assert retried.json()["meta"]["retried"] == 0
    assert post(client, "/api/v1/eval-runs", {"evaluator": "nope"}).json()["field"] == "evaluator"
    assert post(client, "/api/v1/eval-runs", {"evaluator": "relevance", "sample_size": 5000}).json()["field"] \
        == "sample_size"
    # The pages show the same run.
    html = client.get(f"/evals/runs/{run_id}/").content.decode()
    assert "Lowest-scoring samples" in html and "The colour of grass is green." in html
    assert "relevance" in client.get("/evals/").content.decode()
    assert "Start a run" in client.get(f"/evals/{evaluator.id}/").content.decode()


def test_viewers_read_but_never_write(viewer, org):
    client = signed_in(viewer)
    assert client.get("/api/v1/datasets").status_code == 200
    assert post(client, "/api/v1/datasets", {"name": "x"}).status_code == 403
    assert client.post("/datasets/", {"name": "x"}).status_code == 403


def test_pages_render_and_forms_show_errors(owner, org):
    client = signed_in(owner)
    for url in ("/evals/", "/evals/new/", "/datasets/"):
        assert client.get(url).status_code == 200
    bad = client.post("/evals/new/", {"name": "", "type": "llm_judge"})
    assert bad.status_code == 400 and "is required" in bad.content.decode()
    made = client.post("/datasets/", {"name": "faq"})
    assert made.status_code == 302
    dataset = org.datasets.get(name="faq")
    added = client.post(f"/datasets/{dataset.id}/", {"input": "Hello?", "expected_output": "Hi", "action": "add"})
    assert added.status_code == 302 and dataset.items.count() == 1
    broken = client.post(f"/datasets/{dataset.id}/", {"input": "{nope", "action": "add"})
    assert broken.status_code == 400
    export = client.get(f"/datasets/{dataset.id}/export.jsonl")
    assert json.loads(b"".join(export.streaming_content))["expected_output"] == "Hi"


# --- tenant isolation ------------------------------------------------------------------

@pytest.fixture
def theirs(other_org_and_project):
    """Another organization's evaluator, run, dataset and item."""
    other_org, _ = other_org_and_project
    evaluator = eval_services.create_evaluator(other_org, name="secret-evaluator", type="exact_match", config={})
    dataset = dataset_services.create_dataset(other_org, name="secret-dataset")
    item = dataset_services.add_items(dataset, [{"input": "secret question", "output": "x", "expected_output": "x"}])[0]
    run = eval_services.start_eval_run(other_org, evaluator,
                                       eval_services.parse_run_request(other_org, {"dataset": str(dataset.id)}))
    return {"evaluator": evaluator, "dataset": dataset, "item": item, "run": run}


def test_outsiders_get_404_on_every_object_and_endpoint(owner, org, theirs, bearer):
    client = signed_in(owner)
    e, d, i, r = (theirs[k].id for k in ("evaluator", "dataset", "item", "run"))
    urls = [
        ("get", f"/api/v1/evaluators/{e}"), ("patch", f"/api/v1/evaluators/{e}"), ("delete", f"/api/v1/evaluators/{e}"),
        ("get", f"/api/v1/eval-runs/{r}"), ("get", f"/api/v1/eval-runs/{r}/results"),
        ("post", f"/api/v1/eval-runs/{r}/retry-failed"),
        ("get", f"/api/v1/datasets/{d}"), ("patch", f"/api/v1/datasets/{d}"), ("delete", f"/api/v1/datasets/{d}"),
        ("get", f"/api/v1/datasets/{d}/items"), ("post", f"/api/v1/datasets/{d}/items"),
        ("patch", f"/api/v1/datasets/{d}/items/{i}"), ("delete", f"/api/v1/datasets/{d}/items/{i}"),
        ("post", f"/api/v1/datasets/{d}/import"),
        ("get", f"/evals/{e}/"), ("get", f"/evals/{e}/edit/"), ("post", f"/evals/{e}/edit/"),
        ("post", f"/evals/{e}/run/"), ("get", f"/evals/{e}/estimate/"), ("get", f"/evals/runs/{r}/"),
        ("post", f"/evals/runs/{r}/retry/"), ("get", f"/datasets/{d}/"), ("post", f"/datasets/{d}/"),
        ("get", f"/datasets/{d}/export.jsonl"), ("post", f"/datasets/{d}/items/{i}/"),
        ("post", f"/datasets/{d}/upload/"),
    ]
    for auth in ({}, bearer):
        for method, url in urls:
            if method in ("post", "patch"):
                response = getattr(client, method)(url, json.dumps({"name": "x", "input": "x"}),
                                                   content_type="application/json", **auth)
            else:
                response = getattr(client, method)(url, **auth)
            assert response.status_code == 404, (method, url, response.status_code)
    # Lists and lookups by name never show or find them either.
    for url in ("/api/v1/evaluators", "/api/v1/eval-runs", "/api/v1/datasets", "/evals/", "/datasets/"):
        assert "secret" not in client.get(url).content.decode()
    assert post(client, "/api/v1/eval-runs", {"evaluator": "secret-evaluator"}).json()["field"] == "evaluator"
    mine = eval_services.create_evaluator(org, name="mine", type="exact_match", config={})
    assert post(client, "/api/v1/eval-runs", {"evaluator": str(mine.id), "dataset": str(d)}).json()["field"] == "dataset"
    assert client.post("/datasets/add-requests/", {"dataset": str(d), "request_id": str(i)}).status_code == 404
    theirs["dataset"].refresh_from_db()
    assert theirs["dataset"].items.count() == 1 and theirs["evaluator"].name == "secret-evaluator"


def test_requests_of_another_organization_never_enter_a_dataset(owner, org, other_org_and_project):
    from spanlens.requestlog import queries

    other_org, other_project = other_org_and_project
    foreign = make_row(other_org, other_project, status_code=200)
    queries.insert_requests([foreign])
    dataset = dataset_services.create_dataset(org, name="mine")
    response = post(signed_in(owner), f"/api/v1/datasets/{dataset.id}/items", {"request_ids": [foreign["id"]]})
    assert response.json()["data"]["added"] == 0 and dataset.items.count() == 0

"""The trace ingest and read API, through Django's test client on the real database."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from spanlens.core import services as core_services
from spanlens.traces import services
from spanlens.traces.models import Span, Trace

T0 = datetime(2026, 11, 20, 12, 0, 0, tzinfo=timezone.utc)


def ts(ms: int) -> str:
    return (T0 + timedelta(milliseconds=ms)).isoformat()


def auth(raw: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def post(client, path, body, raw):
    return client.post(path, body, content_type="application/json", **auth(raw))


def span(trace_id, name, start, end, parent=None, **extra):
    return {
        "id": str(uuid.uuid4()),
        "trace_id": str(trace_id),
        "parent_span_id": str(parent) if parent else None,
        "name": name,
        "span_type": extra.pop("span_type", "tool"),
        "status": extra.pop("status", "completed"),
        "started_at": ts(start),
        "ended_at": ts(end) if end is not None else None,
        **extra,
    }


@pytest.fixture
def raw_key(api_key):
    return api_key[1]


def test_it_ingests_a_batch_and_keeps_aggregates(client, raw_key, org):
    trace_id = uuid.uuid4()
    root = span(trace_id, "agent", 0, 900, span_type="custom")
    llm = span(trace_id, "gpt", 100, 400, parent=root["id"], span_type="llm", total_tokens=120,
               prompt_tokens=100, completion_tokens=20, cost_usd="0.00012345", model="gpt-4o-mini")
    tool = span(trace_id, "search", 400, 1250, parent=root["id"], total_tokens=3, cost_usd=0.5)
    body = {
        "traces": [{"id": str(trace_id), "name": "agent", "status": "completed",
                    "started_at": ts(0), "ended_at": ts(1000), "userId": "u1"}],
        "spans": [root, llm, tool],
    }
    response = post(client, "/api/v1/ingest", body, raw_key)
    assert response.status_code == 200, response.content
    assert response.json() == {"success": True, "data": {"traces": 1, "spans": 3}}

    trace = Trace.objects.get(id=trace_id)
    assert trace.organization_id == org.id
    assert trace.span_count == 3
    assert trace.total_tokens == 123
    assert trace.total_cost_usd == Decimal("0.50012345")
    assert trace.duration_ms == 1250  # the tool span ran past the trace's own end
    assert trace.user_id == "u1"
    assert Span.objects.get(id=llm["id"]).duration_ms == 300


def test_a_retried_batch_changes_nothing(client, raw_key):
    trace_id = uuid.uuid4()
    body = {"traces": [{"id": str(trace_id), "name": "t", "started_at": ts(0)}],
            "spans": [span(trace_id, "a", 0, 10, total_tokens=5, cost_usd="0.1"),
                      span(trace_id, "b", 5, 20, total_tokens=7, cost_usd="0.2")]}
    for _ in range(3):
        assert post(client, "/api/v1/ingest", body, raw_key).status_code == 200
    trace = Trace.objects.get(id=trace_id)
    assert (trace.span_count, trace.total_tokens, trace.total_cost_usd) == (2, 12, Decimal("0.3"))
    assert Span.objects.filter(trace_id=trace_id).count() == 2


def test_children_before_parents_and_spans_before_their_trace(client, raw_key):
    trace_id = uuid.uuid4()
    parent_id = uuid.uuid4()
    child = span(trace_id, "child", 10, 20, parent=parent_id)
    assert post(client, "/api/v1/spans", child, raw_key).status_code == 200
    placeholder = Trace.objects.get(id=trace_id)
    assert placeholder.status == "running" and placeholder.span_count == 1

    parent = span(trace_id, "parent", 0, 30)
    parent["id"] = str(parent_id)
    assert post(client, "/api/v1/spans", [parent], raw_key).status_code == 200
    assert post(client, "/api/v1/traces", {"id": str(trace_id), "name": "late", "status": "completed",
                                           "started_at": ts(0), "ended_at": ts(30)}, raw_key).status_code == 200
    trace = Trace.objects.get(id=trace_id)
    assert (trace.name, trace.status, trace.span_count, trace.duration_ms) == ("late", "completed", 2, 30)


def test_the_proxy_link_survives_the_sdks_later_upsert(client, raw_key, org, project):
    trace_id, span_id, request_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    linked = services.link_request_to_span(org.id, trace_id, span_id, request_id, "gpt-4o-mini",
                                           10, 5, 15, Decimal("0.00002"))
    assert linked.span_type == "llm" and linked.total_tokens == 15
    assert Trace.objects.get(id=trace_id).total_tokens == 15

    sdk_span = span(trace_id, "chat", 0, 50, span_type="llm", model=None, total_tokens=None)
    sdk_span["id"] = str(span_id)
    assert post(client, "/api/v1/spans", sdk_span, raw_key).status_code == 200
    stored = Span.objects.get(id=span_id)
    assert (stored.request_id, stored.total_tokens, stored.cost_usd, stored.model) == (
        request_id, 15, Decimal("0.00002"), "gpt-4o-mini")
    assert stored.name == "chat" and stored.duration_ms == 50
    trace = Trace.objects.get(id=trace_id)
    assert (trace.span_count, trace.total_tokens, trace.total_cost_usd) == (1, 15, Decimal("0.00002"))


def test_the_proxy_link_ignores_ids_of_another_organization(org, other_org_and_project):
    other_org, _ = other_org_and_project
    trace_id, span_id = uuid.uuid4(), uuid.uuid4()
    services.link_request_to_span(org.id, trace_id, span_id, uuid.uuid4(), "m", 1, 1, 2, None)
    assert services.link_request_to_span(other_org.id, trace_id, span_id, uuid.uuid4(), "m", 9, 9, 18, None) is None
    assert Span.objects.get(id=span_id).total_tokens == 2
    assert services.link_request_to_span(org.id, "not-a-uuid", span_id, None, "m", 1, 1, 2, None) is None


@pytest.mark.parametrize(
    "body, message",
    [
        ({"traces": [{"name": "no id"}]}, "traces[0].id: is required"),
        ({"spans": [{"id": "x", "trace_id": str(uuid.uuid4())}]}, "spans[0].id: must be a UUID"),
        ({"spans": [{"id": str(uuid.uuid4()), "trace_id": str(uuid.uuid4()), "span_type": "magic"}]},
         "spans[0].span_type: must be one of"),
        ({"spans": [{"id": str(uuid.uuid4()), "trace_id": str(uuid.uuid4()), "started_at": "yesterday"}]},
         "spans[0].started_at: must be an ISO 8601 timestamp"),
        ({"spans": [{"id": str(uuid.uuid4()), "trace_id": str(uuid.uuid4()), "total_tokens": -1}]},
         "spans[0].total_tokens: must be a non-negative integer"),
        ({"traces": "nope"}, "traces: must be a list"),
        ([1, 2], "body: must be an object"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(client, raw_key, body, message):
    response = post(client, "/api/v1/ingest", body, raw_key)
    assert response.status_code == 400
    assert response.json()["success"] is False
    assert message in response.json()["error"]
    assert not Trace.objects.exists()


def test_invalid_json_is_a_400(client, raw_key):
    response = client.post("/api/v1/ingest", "{nope", content_type="application/json", **auth(raw_key))
    assert response.status_code == 400 and response.json()["error"] == "body: not valid JSON"


def test_ingest_needs_a_live_key(client, api_key):
    key, raw = api_key
    assert client.post("/api/v1/ingest", {}, content_type="application/json").status_code == 401
    assert post(client, "/api/v1/ingest", {}, "sl_live_wrong").status_code == 401
    core_services.revoke_api_key(key)
    response = post(client, "/api/v1/ingest", {"traces": []}, raw)
    assert response.status_code == 401 and response.json()["success"] is False


def test_another_tenant_cannot_reuse_a_trace_id(client, raw_key, other_org_and_project):
    trace_id = uuid.uuid4()
    assert post(client, "/api/v1/traces", {"id": str(trace_id), "name": "mine"}, raw_key).status_code == 200
    other_raw = core_services.create_api_key(other_org_and_project[1]).raw_key
    response = post(client, "/api/v1/spans", span(trace_id, "intruder", 0, 1), other_raw)
    assert response.status_code == 409
    assert Trace.objects.get(id=trace_id).span_count == 0


def test_list_and_detail_are_scoped_to_the_callers_organization(client, raw_key, owner, outsider,
                                                                 other_org_and_project):
    trace_id = uuid.uuid4()
    post(client, "/api/v1/ingest", {"traces": [{"id": str(trace_id), "name": "checkout", "status": "error",
                                                "userId": "u7", "started_at": ts(0)}],
                                    "spans": [span(trace_id, "s", 0, 5)]}, raw_key)
    listed = client.get("/api/v1/traces?status=error&name=check&userId=u7", **auth(raw_key)).json()
    assert listed["success"] is True and [t["id"] for t in listed["data"]] == [str(trace_id)]
    assert listed["meta"] == {"total": 1, "page": 1, "limit": 50, "pages": 1}
    assert client.get("/api/v1/traces?status=completed", **auth(raw_key)).json()["data"] == []

    detail = client.get(f"/api/v1/traces/{trace_id}", **auth(raw_key)).json()
    assert detail["data"]["span_count"] == 1 and detail["data"]["spans"][0]["name"] == "s"

    client.force_login(outsider)
    assert client.get(f"/api/v1/traces/{trace_id}").status_code == 404
    assert client.get("/api/v1/traces").json()["data"] == []
    assert client.get(f"/traces/{trace_id}").status_code == 404
    client.force_login(owner)
    assert client.get(f"/api/v1/traces/{trace_id}").status_code == 200
    assert client.get(f"/traces/{trace_id}").status_code == 200


def test_bad_list_filters_are_a_400(client, raw_key):
    response = client.get("/api/v1/traces?sort=price", **auth(raw_key))
    assert response.status_code == 400 and "sort" in response.json()["error"]
    assert client.get("/api/v1/traces?page=0", **auth(raw_key)).status_code == 400
    assert client.get("/api/v1/traces").status_code == 401


def test_wrong_methods_get_a_json_405(client, raw_key):
    response = client.get("/api/v1/ingest", **auth(raw_key))
    assert response.status_code == 405
    assert response.json() == {"success": False, "error": "method GET not allowed; use POST"}
    assert client.delete(f"/api/v1/traces/{uuid.uuid4()}", **auth(raw_key)).status_code == 405


def test_a_body_over_the_upload_limit_is_a_413(client, raw_key, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = {"spans": [{"id": str(uuid.uuid4()), "trace_id": str(uuid.uuid4()), "input": "x" * 2000}]}
    response = post(client, "/api/v1/ingest", body, raw_key)
    assert response.status_code == 413 and response.json()["success"] is False

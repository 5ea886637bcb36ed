"""Input a careless or hostile client sends: a 400 naming the parameter or field, or
stored as well as the database allows, never a 500. Runs on PostgreSQL in CI."""
from __future__ import annotations

import json
import uuid

import pytest
from django.test import Client

from spanlens.requestlog import queries
from spanlens.traces.models import Span, Trace
from tests.seed import make_row


@pytest.fixture
def owner_client(owner):
    client = Client(raise_request_exception=False)
    client.force_login(owner)
    return client


@pytest.fixture
def raw_key(api_key):
    return api_key[1]


def ingest(client, raw_key, body):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post("/api/v1/ingest", data, content_type="application/json",
                       HTTP_AUTHORIZATION=f"Bearer {raw_key}")


# --- request list: searches and dates --------------------------------------------

@pytest.mark.parametrize("query", [
    "q=%5C", "q=abc%5C", "q=%25%27%22%5C", "model=%5C", "userId=%5C", "sessionId=%5C",
    "q=%09tab%0Anewline", "userId=%5CN",
])
def test_backslashes_and_quotes_are_plain_search_text(owner_client, org, project, query):
    queries.insert_requests([make_row(org, project)])
    response = owner_client.get(f"/api/v1/requests?{query}")
    assert response.status_code == 200 and response.json()["success"] is True
    assert owner_client.get(f"/requests/?{query}").status_code == 200


def test_a_backslash_is_searchable(owner_client, org, project):
    plain = make_row(org, project, user_id="alice", session_id="s1")
    slashed = make_row(org, project, user_id="corp\\alice", session_id="s\\2",
                       model="ft:gpt-4o\\v2", request_body='{"path": "C:\\\\temp\\\\x"}')
    queries.insert_requests([plain, slashed])
    for query in ("q=C%3A%5C%5Ctemp", "q=%5C", "userId=corp%5Calice", "sessionId=s%5C2", "model=o%5Cv"):
        body = owner_client.get(f"/api/v1/requests?{query}").json()
        assert [r["id"] for r in body["data"]] == [slashed["id"]], query


@pytest.mark.parametrize("query,param", [
    ("from=0001-01-01T00:00:00Z", "from"), ("to=0001-01-01T00:00:00Z", "to"),
    ("from=1899-12-31T23:59:59Z", "from"), ("to=2300-01-01T00:00:00Z", "to"),
    ("to=9999-12-31T23:59:59-05:00", "to"), ("from=0001-01-01T00:00:00%2B05:00", "from"),
])
def test_dates_outside_the_logs_range_are_a_400_naming_the_parameter(owner_client, org, query, param):
    response = owner_client.get(f"/api/v1/requests?{query}")
    assert response.status_code == 400
    assert response.json() == {
        "success": False, "error": f"invalid parameter {param}: must be between 1900-01-01 and 2299-12-31"}
    page = owner_client.get(f"/requests/?{query}")
    assert page.status_code == 200 and b"must be between 1900-01-01 and 2299-12-31" in page.content


# --- ingest --------------------------------------------------------------------

def _span(**extra) -> dict:
    return {"id": str(uuid.uuid4()), "trace_id": str(uuid.uuid4()), "name": "step", **extra}


def _nested(depth: int) -> dict:
    value: dict = {}
    for _ in range(depth):
        value = {"a": value}
    return value


@pytest.mark.parametrize("body,message", [
    ('{"spans": [{"metadata": ' + '{"a": ' * 5000 + "1" + "}" * 5000 + "}]}", "body: nested deeper than 64 levels"),
    ({"spans": [_span(metadata=_nested(100))]}, "spans[0].metadata: nested deeper than 64 levels"),
    ({"spans": [_span(input=json.loads("[" * 70 + "]" * 70))]}, "spans[0].input: nested deeper than 64 levels"),
    ({"spans": [_span(prompt_tokens=10**23)]}, "spans[0].prompt_tokens: must be at most 2147483647"),
    ({"spans": [_span(total_tokens=2**31)]}, "spans[0].total_tokens: must be at most 2147483647"),
    ({"spans": [_span(duration_ms=10**23)]}, "spans[0].duration_ms: must be at most"),
    ({"spans": [_span(cost_usd=1e23)]}, "spans[0].cost_usd: must be at most 1000000"),
    ({"spans": [_span(cost_usd="1" * 40)]}, "spans[0].cost_usd: must be at most 1000000"),
    ('{"spans": [{"id": "%s", "trace_id": "%s", "metadata": {"x": NaN}}]}' % (uuid.uuid4(), uuid.uuid4()),
     "spans[0].metadata: numbers must be finite"),
    ({"traces": [{"id": str(uuid.uuid4()), "started_at": "0001-01-01T00:00:00+05:00"}]},
     "traces[0].started_at: must be between 1900-01-01 and 2299-12-31"),
])
def test_what_the_database_cannot_hold_is_a_400_naming_the_field(client, raw_key, body, message):
    response = ingest(client, raw_key, body)
    assert response.status_code == 400, response.content
    assert response.json()["success"] is False and message in response.json()["error"]
    assert not Trace.objects.exists() and not Span.objects.exists()


def test_nul_characters_and_lone_surrogates_are_made_storable_everywhere(client, raw_key, org):
    trace_id, span_id = uuid.uuid4(), uuid.uuid4()
    body = (
        '{"traces": [{"id": "%s", "name": "nul\\u0000name", "userId": "u\\u00001", "sessionId": "s\\ud800",'
        ' "metadata": {"k\\u0000": "v\\u0000", "list": ["\\u0000", {"deep": "\\udfff"}]}}],'
        ' "spans": [{"id": "%s", "traceId": "%s", "name": "\\u0000", "model": "gpt\\u0000",'
        ' "error": "boom\\u0000", "input": "in\\u0000put", "output": {"text": "out\\u0000"}}]}'
    ) % (trace_id, span_id, trace_id)
    response = ingest(client, raw_key, body)
    assert response.status_code == 200, response.content
    trace = Trace.objects.get(id=trace_id)
    assert (trace.name, trace.user_id, trace.session_id) == ("nulname", "u1", "s\ufffd")
    assert trace.metadata == {"k": "v", "list": ["", {"deep": "\ufffd"}]}
    span = Span.objects.get(id=span_id)
    assert (span.name, span.model, span.error, span.input, span.output) == ("", "gpt", "boom", "input", {"text": "out"})
    listed = client.get("/api/v1/traces?name=nulname", HTTP_AUTHORIZATION=f"Bearer {raw_key}").json()
    assert [t["id"] for t in listed["data"]] == [str(trace_id)]


def test_a_proxied_model_name_with_nul_still_links_to_its_span(org):
    from spanlens.traces import services

    span = services.link_request_to_span(org.id, uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), "gpt\x00-4o",
                                         10**12, 1, 10**12, None)
    assert span.model == "gpt-4o" and span.prompt_tokens == 2_147_483_647


# --- NUL in query parameters and forms ---------------------------------------------

@pytest.mark.parametrize("path,param", [
    ("/api/v1/requests?q=%00", "q"), ("/api/v1/requests?userId=a%00b", "userId"),
    ("/api/v1/traces?name=x%00", "name"), ("/api/v1/traces?sessionId=%00", "sessionId"),
])
def test_nul_in_an_api_parameter_is_a_json_400_naming_it(owner_client, raw_key, path, param):
    response = owner_client.get(path)
    assert response.status_code == 400
    assert response.json() == {"success": False, "error": f"invalid parameter {param}: must not contain NUL characters"}


@pytest.mark.parametrize("path,body,field", [
    ("/api/v1/eval-runs", '{"evaluator": "judge\\u0000", "dataset": "x"}', "body.evaluator"),
    ("/api/v1/datasets", '{"name": "golden", "description": ["ok", "\\u0000"]}', "body.description[1]"),
    ("/api/v1/prompts", '{"name": "p", "messages": [{"ro\\u0000le": "user"}]}', "body.messages[0].role"),
])
def test_nul_in_an_api_json_body_is_a_json_400_naming_the_field(owner_client, path, body, field):
    # PostgreSQL text and jsonb refuse NUL: this reached the database as a 500.
    response = owner_client.post(path, body, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"success": False, "error": f"invalid body field {field}: must not contain NUL characters"}


def test_a_backslash_u_written_out_in_a_json_body_is_not_a_nul(owner_client):
    response = owner_client.post("/api/v1/datasets", '{"name": "path \\\\u0000 in text"}',
                                 content_type="application/json")
    assert response.status_code != 400 or "NUL" not in response.json()["error"]


def test_nul_in_a_page_parameter_or_form_field_is_a_400(owner_client, owner, org):
    assert owner_client.get("/traces?name=%00").status_code == 400
    assert owner_client.get("/settings/audit/?action=a%00").status_code == 400
    from spanlens.core import members

    token = members.invite(org, "nul@example.com", "member", invited_by=owner).accept_url.rstrip("/").rsplit("/", 1)[1]
    response = Client(raise_request_exception=False).post(f"/invite/{token}/", {
        "action": "signup", "username": "nul\x00user", "password": "a-long-password-1",
        "password2": "a-long-password-1"})
    assert response.status_code == 400 and b"username" in response.content

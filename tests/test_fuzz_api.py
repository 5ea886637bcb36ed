"""Property-based fuzzing of the read API's query parameters and ids: whatever a
client sends, the answer is JSON, a success or a 4xx naming what was wrong, never a 500."""
from __future__ import annotations

import uuid
from urllib.parse import quote, urlencode

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spanlens.requestlog import queries
from tests.seed import make_row

FUZZ = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# Text a careless or hostile client puts in a parameter: any character (NUL and
# escapes included), SQL and LIKE metacharacters, numbers and dates at the edges.
NASTY = st.sampled_from([
    "\\", "\\\\", "abc\\", "%", "_", "'", '"', "%'\"\\", "\x00", "a\x00b", "\t", "\n", "\\N", "\\0",
    "' OR 1=1 --", "{org:UUID}", "${x}", "../", "-1", "0", "99999999999999999999999", "1e309", "NaN",
    "0001-01-01T00:00:00Z", "9999-12-31T23:59:59-05:00", "2024-02-30T00:00:00Z", "2024-01-01", "T", "Z",
    "2024-01-01T00:00:00+99:00", "１２３", "é", "😀", " ", "",
])
VALUE = st.one_of(NASTY, st.text(max_size=40), st.integers().map(str), st.uuids().map(str),
                  st.datetimes().map(lambda d: d.isoformat()))
REQUEST_PARAMS = ["projectId", "provider", "model", "providerKeyId", "promptVersionId", "userId", "sessionId",
                  "status", "from", "to", "q", "sortBy", "sortDir", "page", "limit"]
TRACE_PARAMS = ["status", "name", "userId", "user_id", "sessionId", "session_id", "from", "to", "sort",
                "page", "limit"]
VALID = {
    "provider": ["openai", "anthropic", "gemini", "azure"], "status": ["all", "ok", "4xx", "5xx", "running", "error"],
    "sortBy": ["created_at", "latency_ms", "cost_usd", "total_tokens"], "sortDir": ["asc", "desc"],
    "sort": ["-started_at", "name", "-cost", "tokens"], "page": ["1", "2", "100"], "limit": ["1", "50", "100", "200"],
}


def params(names: list[str]):
    value_for = {name: st.one_of(st.sampled_from(VALID[name]), VALUE) if name in VALID else VALUE for name in names}
    chosen = st.lists(st.sampled_from(names + ["unknown"]), max_size=6)
    return chosen.flatmap(lambda keys: st.tuples(*[st.tuples(st.just(k), value_for.get(k, VALUE)) for k in keys]))


@pytest.fixture
def api(api_key, org, project, other_org_and_project):
    other_org, other_project = other_org_and_project
    queries.insert_requests(
        [make_row(org, project, user_id="u\\1", session_id="s'1", model="gpt-4o-mini") for _ in range(3)]
        + [make_row(other_org, other_project)]
    )
    client = Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Bearer {api_key[1]}")
    return client


def assert_json_answer(response, path: str) -> dict:
    assert response.status_code < 500, (path, response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/json"), (path, response["Content-Type"])
    body = response.json()
    if response.status_code >= 400:
        assert body["success"] is False and isinstance(body["error"], str) and body["error"], (path, body)
    else:
        assert body["success"] is True, (path, body)
    return body


def _query(pairs) -> str:
    return urlencode([(k, v) for k, v in pairs])


@FUZZ
@given(pairs=params(REQUEST_PARAMS))
def test_the_request_list_answers_json_for_any_parameters(api, org, pairs):
    path = "/api/v1/requests?" + _query(pairs)
    body = assert_json_answer(api.get(path), path)
    if body["success"]:
        assert all(row["organization_id"] == str(org.id) for row in body["data"])


@FUZZ
@given(pairs=params(REQUEST_PARAMS))
def test_the_request_page_never_fails_on_its_parameters(api, owner, pairs):
    client = Client(raise_request_exception=False)
    client.force_login(owner)
    path = "/requests/?" + _query(pairs)
    response = client.get(path)
    assert response.status_code in (200, 400), (path, response.status_code, response.content[:300])


@settings(FUZZ, max_examples=25)
@given(pairs=params(TRACE_PARAMS))
def test_the_trace_page_never_fails_on_its_parameters(api, owner, pairs):
    client = Client(raise_request_exception=False)
    client.force_login(owner)
    path = "/traces?" + _query(pairs)
    response = client.get(path)
    assert response.status_code in (200, 400), (path, response.status_code, response.content[:300])


@FUZZ
@given(raw=st.binary(max_size=60))
def test_raw_query_strings_of_any_bytes(api, raw):
    for path in ("/api/v1/requests?", "/api/v1/traces?"):
        url = path + quote(raw, safe="=&")
        assert_json_answer(api.get(url), url)


@FUZZ
@given(request_id=st.one_of(st.uuids().map(str), VALUE.filter(lambda s: s.strip("/") == s and s)))
def test_one_request_by_any_id(api, request_id):
    path = "/api/v1/requests/" + quote(request_id, safe="")
    response = api.get(path)
    assert response.status_code in (200, 400, 404), (path, response.status_code, response.content[:300])
    assert_json_answer(response, path)


@FUZZ
@given(pairs=params(TRACE_PARAMS))
def test_the_trace_list_answers_json_for_any_parameters(api, pairs):
    path = "/api/v1/traces?" + _query(pairs)
    assert_json_answer(api.get(path), path)


@FUZZ
@given(trace_id=st.one_of(st.uuids().map(str), VALUE.filter(lambda s: s.strip("/") == s and s)))
def test_one_trace_by_any_id(api, trace_id):
    path = "/api/v1/traces/" + quote(trace_id, safe="")
    response = api.get(path)
    assert response.status_code in (200, 400, 404), (path, response.status_code)
    assert_json_answer(response, path)


def test_a_known_request_is_found_by_its_id(api, org, project):
    row = make_row(org, project)
    queries.insert_requests([row])
    assert api.get(f"/api/v1/requests/{row['id']}").json()["data"]["id"] == row["id"]
    assert api.get(f"/api/v1/requests/{uuid.uuid4()}").status_code == 404


@pytest.mark.parametrize("path", [
    "/api/v1/traces?page=%C2%B9", "/api/v1/traces?limit=%C2%B2", "/api/v1/requests?page=%C2%B9",
])
def test_superscript_digits_are_refused_as_numbers_not_a_500(api, path):
    """'¹'.isdigit() is true but int('¹') fails: a page or limit like it is a bad parameter."""
    response = api.get(path)
    assert_json_answer(response, path)
    assert response.status_code == 400

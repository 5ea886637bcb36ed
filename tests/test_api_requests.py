"""GET /api/v1/requests and /api/v1/requests/<id>, and the replay endpoints."""
from __future__ import annotations

import uuid

import orjson
import pytest
from django.test import Client

from spanlens.core import services
from spanlens.requestlog import queries
from tests import mock_upstream as mock
from tests.seed import make_row, seed


@pytest.fixture
def owner_client(owner):
    client = Client()
    client.force_login(owner)
    return client


@pytest.fixture
def log(org, project, other_org_and_project):
    key = services.add_provider_key(project, "openai", "sk-test-abcdefghijkl", "OpenAI production")
    rows = seed(org, project, 1200, provider_key_id=str(key.id))
    other_org, other_project = other_org_and_project
    theirs = seed(other_org, other_project, 30, seed=99)
    return {"rows": rows, "theirs": theirs, "key": key}


def get(client, url, **headers):
    response = client.get(url, headers=headers)
    return response.status_code, response.json()


def test_the_list_has_data_and_meta(owner_client, log):
    status, body = get(owner_client, "/api/v1/requests?limit=25&page=2")
    assert status == 200
    assert body["success"] is True
    assert body["meta"] == {"total": 1200, "page": 2, "limit": 25}
    assert len(body["data"]) == 25
    row = body["data"][0]
    assert row["provider_key_name"] == "OpenAI production"
    assert "request_body" not in row and "response_body" not in row
    assert row["created_at"].endswith("Z")


def test_every_filter_narrows_the_list(owner_client, org, project, log):
    version = str(uuid.uuid4())
    special = make_row(org, project, provider="anthropic", model="claude-3-5-haiku-20241022", status_code=503,
                       prompt_version_id=version, user_id="u-9", session_id="s-9",
                       provider_key_id=str(log["key"].id))
    queries.insert_requests([special])
    query = (f"projectId={project.id}&provider=anthropic&model=HAIKU&providerKeyId={log['key'].id}"
             f"&promptVersionId={version}&userId=u-9&sessionId=s-9&status=5xx"
             "&from=2000-01-01T00:00:00Z&to=2299-01-01T00:00:00Z")
    status, body = get(owner_client, f"/api/v1/requests?{query}")
    assert status == 200
    assert [r["id"] for r in body["data"]] == [special["id"]]
    assert body["meta"]["total"] == 1


def test_sorting_by_cost_ascending(owner_client, log):
    status, body = get(owner_client, "/api/v1/requests?sortBy=cost_usd&sortDir=asc&limit=100")
    costs = [r["cost_usd"] for r in body["data"]]
    assert costs == sorted(costs)
    assert costs[0] == min(float(r["cost_usd"]) for r in log["rows"])


@pytest.mark.parametrize("query,param", [
    ("limit=101", "limit"), ("limit=0", "limit"), ("page=-1", "page"), ("page=abc", "page"),
    ("sortBy=model", "sortBy"), ("sortDir=up", "sortDir"), ("status=2xx", "status"),
    ("provider=cohere", "provider"), ("projectId=nope", "projectId"), ("providerKeyId=1", "providerKeyId"),
    ("promptVersionId=x", "promptVersionId"), ("from=yesterday", "from"), ("to=2024-13-45", "to"),
    ("from=2024-02-01T00:00:00Z&to=2024-01-01T00:00:00Z", "to"),
])
def test_bad_parameters_are_a_400_naming_the_parameter(owner_client, log, query, param):
    status, body = get(owner_client, f"/api/v1/requests?{query}")
    assert status == 400
    assert body["success"] is False
    assert param in body["error"]


def test_another_tenants_project_is_a_404(owner_client, other_org_and_project, log):
    _, other_project = other_org_and_project
    status, body = get(owner_client, f"/api/v1/requests?projectId={other_project.id}")
    assert status == 404 and body["success"] is False


def test_one_request_has_its_bodies(owner_client, log):
    row = log["rows"][0]
    status, body = get(owner_client, f"/api/v1/requests/{row['id']}")
    assert status == 200
    assert body["data"]["request_body"] == row["request_body"]
    assert body["data"]["response_body"] == row["response_body"]
    assert body["data"]["provider_key_name"] == "OpenAI production"


def test_it_checks_ownership_of_one_request(owner_client, log):
    status, body = get(owner_client, f"/api/v1/requests/{log['theirs'][0]['id']}")
    assert status == 404 and body == {"success": False, "error": "not found"}
    assert get(owner_client, "/api/v1/requests/not-a-uuid")[0] == 404


def test_the_outsiders_rows_never_appear_in_the_list(owner_client, log):
    ids = set()
    for page in range(1, 14):
        _, body = get(owner_client, f"/api/v1/requests?limit=100&page={page}")
        ids |= {r["id"] for r in body["data"]}
    assert ids == {r["id"] for r in log["rows"]}


def test_a_spanlens_api_key_authenticates(api_key, log):
    _, raw = api_key
    status, body = get(Client(), "/api/v1/requests?limit=1", Authorization=f"Bearer {raw}")
    assert status == 200 and body["meta"]["total"] == 1200


def test_a_revoked_or_unknown_key_is_a_401(api_key, log):
    key, raw = api_key
    assert get(Client(), "/api/v1/requests", Authorization="Bearer sl_live_nope")[0] == 401
    services.revoke_api_key(key)
    assert get(Client(), "/api/v1/requests", Authorization=f"Bearer {raw}")[0] == 401


def test_anonymous_callers_get_a_401(db):
    status, body = get(Client(), "/api/v1/requests")
    assert status == 401 and body["success"] is False


# --- replay -------------------------------------------------------------------

def _logged(org, project, key, provider="openai", **extra):
    model = {"openai": "gpt-4o-mini", "anthropic": "claude-haiku-4-5", "gemini": "gemini-2.0-flash"}[provider]
    if provider == "openai":
        body = {"model": model, "stream": True, "stream_options": {"include_usage": True},
                "messages": [{"role": "user", "content": "Say hi"}]}
        endpoint = "v1/chat/completions"
    elif provider == "anthropic":
        body = {"model": model, "max_tokens": 64, "stream": True, "system": "Be brief.",
                "messages": [{"role": "user", "content": "Say hi"}]}
        endpoint = "v1/messages"
    else:
        body = {"contents": [{"role": "user", "parts": [{"text": "Say hi"}]}]}
        endpoint = f"v1beta/models/{model}:streamGenerateContent"
    row = make_row(org, project, provider=provider, model=model, endpoint=endpoint,
                   request_body=orjson.dumps(body).decode(), provider_key_id=str(key.id), user_id="u-1", **extra)
    queries.insert_requests([row])
    return row


def post(client, url, payload=None):
    response = client.post(url, data=orjson.dumps(payload or {}), content_type="application/json")
    return response.status_code, response.json()


def test_the_replay_snippet_targets_our_proxy_without_streaming(owner_client, org, project, log):
    row = _logged(org, project, log["key"])
    status, body = post(owner_client, f"/api/v1/requests/{row['id']}/replay", {"model": "gpt-4o"})
    assert status == 200
    curl = body["data"]["curl"]
    assert "/proxy/openai/v1/chat/completions" in curl
    assert "Authorization: Bearer $SPANLENS_API_KEY" in curl
    assert '"model": "gpt-4o"' in curl and '"stream"' not in curl
    assert "sk-test" not in curl


def test_replay_runs_server_side_and_logs_a_new_row(live_db, owner, org, project, upstream, provider_keys):
    client = Client()
    client.force_login(owner)
    row = _logged(org, project, provider_keys["openai"])
    status, body = post(client, f"/api/v1/requests/{row['id']}/replay/run", {"model": "gpt-4o"})
    assert status == 200, body
    result = body["data"]
    assert result["prompt_tokens"] == mock.PROMPT_TOKENS
    assert result["completion_tokens"] == mock.COMPLETION_TOKENS
    assert result["cost_usd"] > 0
    sent = upstream.last()
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == f"Bearer {mock.OPENAI_KEY}"
    assert sent.json["model"] == "gpt-4o" and "stream" not in sent.json
    logged = queries.get_request(organization_id=org.id, request_id=result["request_id"])
    assert logged["model"] == "gpt-4o-2024-08-06"
    assert logged["user_id"] == "u-1"
    assert mock.OPENAI_KEY not in logged["request_body"]


def test_replay_on_anthropic_and_gemini(live_db, owner, org, project, upstream, provider_keys):
    client = Client()
    client.force_login(owner)
    row = _logged(org, project, provider_keys["anthropic"], provider="anthropic")
    status, body = post(client, f"/api/v1/requests/{row['id']}/replay/run")
    assert status == 200, body
    assert upstream.last().headers["anthropic-version"]
    assert "stream" not in upstream.last().json
    row = _logged(org, project, provider_keys["gemini"], provider="gemini")
    status, body = post(client, f"/api/v1/requests/{row['id']}/replay/run", {"model": "gemini-1.5-pro"})
    assert status == 200, body
    assert upstream.last().path == "/v1beta/models/gemini-1.5-pro:generateContent"


def test_viewers_cannot_run_replays(live_db, viewer, org, project, upstream, provider_keys):
    client = Client()
    client.force_login(viewer)
    row = _logged(org, project, provider_keys["openai"])
    status, body = post(client, f"/api/v1/requests/{row['id']}/replay/run")
    assert status == 403 and body["success"] is False
    assert upstream.requests == []
    # The snippet is read-only, so viewers may fetch it.
    assert post(client, f"/api/v1/requests/{row['id']}/replay")[0] == 200


def test_replay_of_another_tenants_request_is_a_404(live_db, owner, org, other_org_and_project, upstream):
    other_org, other_project = other_org_and_project
    key = services.add_provider_key(other_project, "openai", mock.OPENAI_KEY, "theirs")
    row = _logged(other_org, other_project, key)
    client = Client()
    client.force_login(owner)
    assert post(client, f"/api/v1/requests/{row['id']}/replay/run")[0] == 404
    assert post(client, f"/api/v1/requests/{row['id']}/replay")[0] == 404
    assert upstream.requests == []


def test_replay_needs_a_stored_body(owner_client, org, project, log):
    row = make_row(org, project, provider="openai", request_body="", log_body="meta")
    queries.insert_requests([row])
    status, body = post(owner_client, f"/api/v1/requests/{row['id']}/replay/run")
    assert status == 400 and "not stored" in body["error"]


def test_session_posts_need_the_csrf_token(owner, log, org, project):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    row = _logged(org, project, log["key"])
    assert post(client, f"/api/v1/requests/{row['id']}/replay")[0] == 403


def test_replay_runs_beside_the_in_process_worker_of_the_embedded_default(
    live_db, owner, org, project, upstream, provider_keys
):
    """`make run` hosts a Celery worker in the web process, which makes Celery refuse
    blocking waits anywhere in that process; the replay view must still answer."""
    from celery._state import _set_task_join_will_block, task_join_will_block

    client = Client()
    client.force_login(owner)
    row = _logged(org, project, provider_keys["openai"])
    previous = task_join_will_block()
    _set_task_join_will_block(True)  # what the worker sets when it starts in-process
    try:
        status, body = post(client, f"/api/v1/requests/{row['id']}/replay/run", {"model": "gpt-4o"})
    finally:
        _set_task_join_will_block(previous)
    assert status == 200, body
    assert body["data"]["completion_tokens"] == mock.COMPLETION_TOKENS

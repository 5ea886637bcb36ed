"""/sessions and /sessions/<id>: grouping, sorting, filtering, the conversation timeline,
saved views, the Session column of /requests, and tenants kept apart."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import orjson
import pytest
from django.test import Client

from spanlens.requestlog import queries
from spanlens.requestlog.sessions import list_sessions
from spanlens.sharing.models import SavedView
from tests.seed import make_row


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def chat_turn(org, project, session, at, history, question, answer, **extra):
    messages = [{"role": "system", "content": "You are a travel agent."}, *history,
                {"role": "user", "content": question}]
    row = make_row(org, project, created_at=at, provider="openai", model="gpt-4o-mini", session_id=session,
                   status_code=200, **extra)
    row["request_body"] = orjson.dumps({"model": "gpt-4o-mini", "messages": messages}).decode()
    row["response_body"] = orjson.dumps({"choices": [{"message": {"role": "assistant", "content": answer}}]}).decode()
    return row, [*history, {"role": "user", "content": question}, {"role": "assistant", "content": answer}]


@pytest.fixture
def conversations(org, project, other_org_and_project):
    now = datetime.now(timezone.utc)
    rows, history = [], []
    start = now - timedelta(hours=2)
    for i, (q, a) in enumerate([("Flights to Lisbon?", "Three options on Friday."),
                                ("The cheapest one?", "TAP at 09:10, $182."),
                                ("Book it.", "Booked: TAP 09:10.")]):
        row, history = chat_turn(org, project, "trip-42", start + timedelta(seconds=40 * i), history, q, a,
                                 user_id="alice", cost_usd="0.00100000", total_tokens=100)
        rows.append(row)
    rows.append(make_row(org, project, created_at=now - timedelta(minutes=5), session_id="chat/7", user_id="bob",
                         status_code=500, cost_usd="0.00500000", total_tokens=40, model="claude-3-5-haiku-20241022",
                         provider="anthropic"))
    rows.append(make_row(org, project, created_at=now - timedelta(minutes=4), session_id="chat/7", user_id="bob",
                         status_code=200, cost_usd="0.00500000", total_tokens=40, model="claude-3-5-haiku-20241022",
                         provider="anthropic"))
    rows.append(make_row(org, project, created_at=now - timedelta(minutes=3), status_code=200))  # no session
    other_org, other_project = other_org_and_project
    rows.append(make_row(other_org, other_project, created_at=now - timedelta(minutes=1), session_id="secret-sess",
                         user_id="mallory", status_code=200))
    queries.insert_requests(rows)
    return rows


def test_one_row_per_session_with_its_totals(owner, org, conversations):
    result = list_sessions(organization_id=org.id)
    assert result["total"] == 2
    by_id = {r["session_id"]: r for r in result["rows"]}
    trip = by_id["trip-42"]
    assert int(trip["requests"]) == 3 and int(trip["total_tokens"]) == 300 and int(trip["errors"]) == 0
    assert trip["last_user"] == "alice" and int(trip["duration_ms"]) == 80_000
    assert float(trip["cost_usd"]) == pytest.approx(0.003)
    assert int(by_id["chat/7"]["errors"]) == 1
    assert [r["session_id"] for r in result["rows"]] == ["chat/7", "trip-42"]  # last seen first


def test_the_list_sorts_and_filters(owner, conversations):
    client = signed_in(owner)
    page = client.get("/sessions/").content.decode()
    assert "trip-42" in page and "chat/7" in page and "secret-sess" not in page
    by_cost = client.get("/sessions/?sortBy=cost_usd&sortDir=desc").content.decode()
    assert by_cost.index("chat/7") < by_cost.index("trip-42")
    by_duration = client.get("/sessions/?sortBy=duration&sortDir=desc").content.decode()
    assert by_duration.index('data-session-id="trip-42"') < by_duration.index('data-session-id="chat/7"')
    only_errors = client.get("/sessions/?errors=only").content.decode()
    assert 'data-session-id="chat/7"' in only_errors and 'data-session-id="trip-42"' not in only_errors
    assert "1 session" in only_errors
    by_user = client.get("/sessions/?userId=alice").content.decode()
    assert 'data-session-id="trip-42"' in by_user and 'data-session-id="chat/7"' not in by_user
    by_id = client.get("/sessions/?q=TRIP").content.decode()
    assert 'data-session-id="trip-42"' in by_id and 'data-session-id="chat/7"' not in by_id


def test_bad_parameters_are_form_errors(owner, conversations):
    response = signed_in(owner).get("/sessions/?sortBy=nope&page=-1&from=yesterday")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Ignored <code>sortBy</code>" in body and "Ignored <code>from</code>" in body


def test_the_timeline_shows_each_turn_and_its_reply(owner, conversations):
    page = signed_in(owner).get("/sessions/trip-42/").content.decode()
    for text in ("Flights to Lisbon?", "Three options on Friday.", "The cheapest one?", "TAP at 09:10, $182.",
                 "Book it.", "Booked: TAP 09:10."):
        assert text in page
    # History resent with each call is not repeated: each question appears once.
    assert page.count("The cheapest one?") == 1
    assert page.count("You are a travel agent.") == 1
    for row in conversations[:3]:
        assert f'href="/requests/{row["id"]}/"' in page
    assert page.index("Flights to Lisbon?") < page.index("Book it.")


def test_a_session_id_with_a_slash_opens(owner, conversations):
    page = signed_in(owner).get("/sessions/chat%2F7/").content.decode()
    assert "claude-3-5-haiku-20241022" in page and "upstream said 500" in page


def test_it_checks_ownership_of_a_session(owner, outsider, conversations):
    assert signed_in(owner).get("/sessions/secret-sess/").status_code == 404
    assert signed_in(outsider).get("/sessions/trip-42/").status_code == 404
    theirs = signed_in(outsider).get("/sessions/").content.decode()
    assert "secret-sess" in theirs and "trip-42" not in theirs


def test_the_request_list_links_each_row_to_its_session(owner, conversations):
    page = signed_in(owner).get("/requests/").content.decode()
    assert "<th>Session</th>" in page
    assert 'href="/sessions/chat%2F7/"' in page and 'href="/sessions/trip-42/"' in page


def test_a_sessions_filter_saves_as_a_view(owner, org, conversations):
    client = signed_in(owner)
    response = client.post("/views/", {"page": "sessions", "query": "errors=only&page=3", "view_name": "Failing"})
    assert response.status_code == 302 and response["Location"] == "/sessions/?errors=only"
    view = SavedView.objects.get(organization=org, page="sessions")
    page = client.get("/sessions/?errors=only").content.decode()
    assert 'data-views-bar="sessions"' in page and 'data-view="Failing"' in page
    client.post(f"/views/{view.id}/", {"action": "default"})
    assert client.get("/sessions/")["Location"] == "/sessions/?errors=only"

"""Dashboard finish: one number formatter, filters that the strip and bars follow, one-filter
clear, the replay model list, error pages and the favicon."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import orjson
import pytest
from django.test import Client, RequestFactory

from dashboard import errors, replay
from spanlens.core import formatting
from spanlens.requestlog import queries
from tests.seed import make_row

HTMX = {"HX-Request": "true"}


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("value,text", [
    (None, "—"), (0, "$0.00"), (0.000285, "$0.000285"), (0.0003, "$0.0003"), (0.00012345, "$0.000123"),
    (0.5, "$0.50"), (0.0123, "$0.0123"), (1.5, "$1.50"), (1234.567, "$1,234.57"), ("0.00100000", "$0.001"),
    (0.00000012, "$0.00000012"), (1e-9, "<$0.00000001"), (-0.002, "-$0.002"),
])
def test_money_keeps_enough_digits_for_sub_cent_calls(value, text):
    assert formatting.usd(value) == text


@pytest.mark.parametrize("value,text", [
    (None, "—"), (0, "0 ms"), (0.4, "0.4 ms"), (850, "850 ms"), (1250, "1.25 s"), (65_000, "1m 05s"),
    (3_725_000, "1h 02m"),
])
def test_durations_read_the_same_everywhere(value, text):
    assert formatting.duration_ms(value) == text


def test_tokens_counts_and_signed_money():
    assert [formatting.tokens(v) for v in (1500, "1500", 12_345, 2_500_000, None)] == ["1,500", "1,500", "12.3k",
                                                                                     "2.5M", "—"]
    assert formatting.count(1500) == "1,500"
    assert [formatting.usd_signed(v) for v in (-12.4, 3.1, 0, 0.00042)] == ["−$12.40", "+$3.10", "$0.00", "+$0.00042"]


def test_the_traces_and_requests_pages_format_a_row_alike(owner, org, project):
    import uuid
    from decimal import Decimal

    from spanlens.traces import services as trace_services

    now = datetime.now(timezone.utc)
    queries.insert_requests([make_row(org, project, total_tokens=1500, prompt_tokens=1200, completion_tokens=300,
                                      cost_usd="0.00028500", latency_ms=1250, created_at=now)])
    trace_id = uuid.uuid4()
    trace_services.ingest(
        organization_id=org.id, project_id=project.id,
        traces=[{"id": trace_id, "name": "agent", "status": "completed", "started_at": now,
                 "ended_at": now + timedelta(milliseconds=1250)}],
        spans=[{"id": uuid.uuid4(), "trace_id": trace_id, "name": "llm", "span_type": "llm", "status": "completed",
                "started_at": now, "ended_at": now + timedelta(milliseconds=1250), "total_tokens": 1500,
                "cost_usd": Decimal("0.000285")}],
    )
    client = signed_in(owner)
    requests_html = client.get("/requests/").content.decode()
    traces_html = client.get("/traces").content.decode()
    for html in (requests_html, traces_html):
        assert "1,500" in html and "$0.000285" in html and "1.25 s" in html


def test_the_strip_and_bars_follow_the_filters(owner, org, project):
    now = datetime.now(timezone.utc)
    queries.insert_requests(
        [make_row(org, project, provider="openai", model="gpt-4o-mini", status_code=200, created_at=now) for _ in range(3)]
        + [make_row(org, project, provider="anthropic", model="claude-sonnet-4-5", status_code=500, created_at=now)
           for _ in range(2)]
    )
    client = signed_in(owner)
    everything = client.get("/requests/").content.decode()
    assert 'data-stats-filtered' not in everything
    html = client.get("/requests/?provider=anthropic").content.decode()
    strip = html[html.index('id="stat-strip"'):html.index("</section>")]
    assert ">2</div>" in strip and "100.0%" in strip and "data-stats-filtered" in strip
    assert "2 total" in strip and 'hx-get="/requests/?provider=anthropic"' in strip
    # A filter changed in place: the list comes back with the strip swapped in beside it.
    partial = client.get("/requests/?provider=openai", headers={**HTMX, "HX-Target": "request-list",
                                                                "HX-Trigger": "filters"}).content.decode()
    assert partial.lstrip().startswith('<div id="request-list"')
    oob = partial[partial.index('<section id="stat-strip"'):]
    assert 'hx-swap-oob="true"' in oob and ">3</div>" in oob and "0.0%" in oob


def test_each_filter_clears_alone(owner, org, project):
    queries.insert_requests([make_row(org, project, session_id="s-1", user_id="u-1", model="gpt-4o-mini")])
    html = signed_in(owner).get("/requests/?sessionId=s-1&userId=u-1&model=mini").content.decode()
    assert 'href="/requests/?model=mini&amp;userId=u-1" data-clear-filter="sessionId"' in html
    assert 'href="/requests/?model=mini&amp;sessionId=s-1" data-clear-filter="userId"' in html
    # Clear all drops the drill-down filters of the banner, not the toolbar's model filter.
    assert 'href="/requests/?model=mini" data-clear-filters' in html


def test_the_replay_list_holds_only_chat_models_of_the_provider_grouped(live_db):
    row = {"provider": "openai", "endpoint": "v1/chat/completions",
           "request_body": orjson.dumps({"model": "gpt-4o-mini"}).decode()}
    groups = replay.models_for(row)
    assert groups[0].label == "Original" and groups[0].models == ["gpt-4o-mini"]
    names = [m for g in groups[1:] for m in g.models]
    assert "gpt-4o" in names and "o3-mini" in names or "o3" in names
    assert "gpt-4o-mini" not in names
    for odd in ("daybreak-blue-latest", "ft:gpt-3.5-turbo", "gpt-4o-audio-preview-2024-12-17", "chat-latest",
                "gpt-4o-search-preview", "text-embedding-3-small", "claude-sonnet-4-5"):
        assert odd not in names
    labels = [g.label for g in groups]
    assert "GPT-4o" in labels and len(labels) == len(set(labels))
    gpt4o = next(g for g in groups if g.label == "GPT-4o").models
    assert gpt4o.index("gpt-4o") < gpt4o.index("gpt-4o-2024-05-13")
    claude = replay.models_for({"provider": "anthropic", "endpoint": "v1/messages",
                                "request_body": orjson.dumps({"model": "claude-sonnet-4-5"}).decode()})
    assert {g.label for g in claude[1:]} <= {"Claude Opus", "Claude Sonnet", "Claude Haiku", "Claude Fable",
                                             "Claude Mythos"}


def test_the_replay_modal_has_a_search_box_and_groups(owner, org, project, live_db):
    row = make_row(org, project, provider="openai", model="gpt-4o-mini-2024-07-18", status_code=200,
                   request_body=orjson.dumps({"model": "gpt-4o-mini", "messages": []}).decode())
    queries.insert_requests([row])
    html = signed_in(owner).get(f"/requests/{row['id']}/replay/").content.decode()
    assert "data-replay-search" in html and '<optgroup label="Original">' in html
    assert html.index("gpt-4o-mini (original)") < html.index('<optgroup label="GPT-4o">')
    assert "daybreak" not in html and "ft:gpt" not in html


def test_a_missing_page_is_a_404_in_the_layout(owner, org):
    response = signed_in(owner).get("/no-such-page/")
    html = response.content.decode()
    assert response.status_code == 404 and 'data-error-page="404"' in html and 'class="switcher"' in html
    assert "favicon.svg" in html
    api = signed_in(owner).get("/api/v1/nothing-here")
    assert api.status_code == 404 and api.json()["success"] is False


def test_a_viewer_gets_the_403_page_and_the_api_json(viewer, org, project):
    from spanlens.core import services

    key = services.add_provider_key(project, "openai", "sk-test-403-1234567890", "OpenAI")
    response = signed_in(viewer).post(f"/settings/provider-keys/{key.id}/", {"action": "delete"})
    assert response.status_code == 403 and 'data-error-page="403"' in response.content.decode()


def test_the_500_page_renders_even_without_a_working_layout(owner, monkeypatch):
    request = RequestFactory().get("/requests/")
    request.user = owner
    request.session = {}
    response = errors.server_error(request)
    assert response.status_code == 500 and 'data-error-page="500"' in response.content.decode()

    def broken(request):
        raise RuntimeError("database down")

    monkeypatch.setattr("dashboard.nav.nav", broken)
    from django.test.utils import override_settings
    from django.conf import settings

    templates = [{**settings.TEMPLATES[0], "OPTIONS": {**settings.TEMPLATES[0]["OPTIONS"],
                                                        "context_processors": ["dashboard.nav.nav"]}}]
    with override_settings(TEMPLATES=templates):
        response = errors.server_error(request)
    assert response.status_code == 500 and 'data-error-page="500"' in response.content.decode()
    api = errors.server_error(RequestFactory().get("/api/v1/requests"))
    assert api.status_code == 500 and orjson.loads(api.content)["success"] is False


def test_the_favicon_is_served(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"].endswith(".svg")

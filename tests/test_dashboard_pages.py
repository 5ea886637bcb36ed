"""Dashboard pages: /requests (list, partials, drawer, detail, export), /users,
the org switcher and settings, with owner, member, viewer and outsider."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone

import orjson
import pytest
from django.test import Client

from spanlens.core import crypto, services
from spanlens.core.models import ApiKey, Membership, Project, ProviderKey
from spanlens.requestlog import queries
from tests.seed import make_row, seed

HTMX = {"HX-Request": "true"}


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def log(org, project, other_org_and_project):
    rows = seed(org, project, 1500, user_id="alice")
    other_org, other_project = other_org_and_project
    theirs = [make_row(other_org, other_project, model="outsider-model", user_id="mallory") for _ in range(20)]
    queries.insert_requests(theirs)
    return {"rows": rows, "theirs": theirs}


def body_of(response) -> bytes:
    """An export is a file response, written whole before it is sent."""
    return b"".join(response.streaming_content)


def newest_first(rows):
    return sorted(rows, key=lambda r: (r["created_at"], r["id"]), reverse=True)


def test_pages_need_a_sign_in(db):
    for url in ("/requests/", "/users/", "/settings/projects/", "/prompts/"):
        response = Client().get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_sign_in_and_out(owner, org):
    client = Client()
    response = client.post("/login/", {"username": "owner", "password": "pw-owner-123"})
    assert response.status_code == 302 and response["Location"] == "/requests/"
    assert client.get("/requests/").status_code == 200
    client.post("/logout/")
    assert client.get("/requests/").status_code == 302


def test_the_requests_page_shows_stats_bars_and_the_first_page(owner, log):
    response = signed_in(owner).get("/requests/")
    html = response.content.decode()
    assert response.status_code == 200
    assert html.count('class="stat') >= 5
    assert html.count("<rect class=\"bar") == 30
    assert "1–50 of 1,500" in html
    for row in newest_first(log["rows"])[:50]:
        assert row["id"] in html
    assert "outsider-model" not in html


def test_an_htmx_refresh_returns_only_the_list(owner, log):
    client = signed_in(owner)
    response = client.get("/requests/?model=mini&page=2", headers={**HTMX, "HX-Target": "request-list"})
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="request-list"')
    assert "<html" not in html and 'hx-trigger="every 10s"' in html
    strip = client.get("/requests/", headers={**HTMX, "HX-Target": "stat-strip"}).content.decode()
    assert strip.lstrip().startswith('<section id="stat-strip"')


def test_url_only_filters_show_a_banner_with_clear(owner, org, project, log):
    queries.insert_requests([make_row(org, project, session_id="sess-1") for _ in range(3)])
    html = signed_in(owner).get("/requests/?sessionId=sess-1").content.decode()
    assert "filter-banner" in html and "sess-1" in html and 'data-clear-filter="sessionId"' in html
    assert "1–3 of 3" in html


def test_bad_parameters_become_form_errors_not_500(owner, log):
    response = signed_in(owner).get("/requests/?sortBy=evil&limit=1000&from=soon")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Ignored <code>sortBy</code>" in html and "Ignored <code>limit</code>" in html
    assert "1–50 of 1,500" in html


def test_the_drawer_steps_across_a_page_boundary(owner, log):
    ordered = newest_first(log["rows"])
    client = signed_in(owner)
    response = client.get(f"/requests/{ordered[49]['id']}/drawer/?pos=49", headers=HTMX)
    html = response.content.decode()
    assert f'data-request-id="{ordered[49]["id"]}"' in html
    assert f"/requests/{ordered[50]['id']}/drawer/?pos=50" in html
    assert f"/requests/{ordered[48]['id']}/drawer/?pos=48" in html
    assert "hx-swap-oob" not in html
    # Next from the last row of page 1 lands on page 2 and swaps the list too.
    response = client.get(f"/requests/{ordered[50]['id']}/drawer/?pos=50", headers=HTMX)
    html = response.content.decode()
    assert response["HX-Push-Url"] == "/requests/?page=2"
    assert 'id="request-list" hx-swap-oob="true"' in html
    assert "51–100 of 1,500" in html
    # The very first row has no Prev.
    html = client.get(f"/requests/{ordered[0]['id']}/drawer/?pos=0", headers=HTMX).content.decode()
    assert 'data-nav="prev" disabled' in html


def test_the_drawer_renders_conversations_for_each_provider(owner, org, project):
    rows = [make_row(org, project, provider=p, status_code=200) for p in ("openai", "anthropic", "gemini")]
    queries.insert_requests(rows)
    client = signed_in(owner)
    for row in rows:
        html = client.get(f"/requests/{row['id']}/drawer/", headers=HTMX).content.decode()
        assert "msg-user" in html and "Please help with the" in html
        if row["provider"] != "gemini":
            assert "msg-system" in html and "You are terse." in html
        assert "data-trace-help" in html


def test_the_error_tab_shows_only_for_errors(owner, org, project):
    failed = make_row(org, project, status_code=500, error_message="upstream exploded")
    ok = make_row(org, project, status_code=200)
    queries.insert_requests([failed, ok])
    client = signed_in(owner)
    assert 'data-tab="error"' in client.get(f"/requests/{failed['id']}/").content.decode()
    assert 'data-tab="error"' not in client.get(f"/requests/{ok['id']}/").content.decode()


def test_it_checks_ownership_of_drawer_detail_and_replay(owner, log):
    theirs = log["theirs"][0]["id"]
    client = signed_in(owner)
    for url in (f"/requests/{theirs}/drawer/", f"/requests/{theirs}/", f"/requests/{theirs}/replay/",
                "/requests/not-a-uuid/"):
        assert client.get(url).status_code == 404, url


def test_the_replay_modal_offers_the_original_model_first(owner, org, project):
    row = make_row(org, project, provider="anthropic", model="claude-3-5-haiku-20241022")
    queries.insert_requests([row])
    html = signed_in(owner).get(f"/requests/{row['id']}/replay/").content.decode()
    options = [line for line in html.splitlines() if "<option" in line]
    assert "claude-3-5-haiku-20241022 (original)" in options[0]
    assert not any("gpt-4o" in o for o in options)


def test_exports_follow_the_filters_and_the_tenant(owner, log):
    client = signed_in(owner)
    response = client.get("/requests/export.csv?provider=gemini")
    text = body_of(response).decode()
    reader = list(csv.DictReader(io.StringIO(text)))
    assert len(reader) == sum(r["provider"] == "gemini" for r in log["rows"])
    assert {r["provider"] for r in reader} == {"gemini"}
    assert "request_body" not in reader[0]
    response = client.get("/requests/export.jsonl")
    lines = body_of(response).splitlines()
    assert len(lines) == 1500
    first = orjson.loads(lines[0])
    assert first["request_body"] and first["organization_id"] != str(log["theirs"][0]["organization_id"])
    assert b"outsider-model" not in b"".join(lines)


def test_the_users_page_groups_by_user(owner, org, project, log):
    queries.insert_requests([make_row(org, project, user_id="bob", cost_usd="9.00000000")])
    html = signed_in(owner).get("/users/").content.decode()
    assert html.index("bob") < html.index("alice")  # by spend
    assert "/requests/?userId=alice" in html
    assert "mallory" not in html
    html = signed_in(owner).get("/users/?sortBy=requests").content.decode()
    assert html.index("alice") < html.index("bob")


def test_the_org_switcher(owner, org, other_org_and_project):
    second_org, _ = services.create_organization("Second Co", owner)
    client = signed_in(owner)
    assert "Acme · All projects" in client.get("/requests/").content.decode()
    client.post("/switch/", {"target": f"{second_org.id}:"})
    html = client.get("/settings/projects/").content.decode()
    assert "<p class=\"muted\">Second Co</p>" in html
    other_org, _ = other_org_and_project
    assert client.post("/switch/", {"target": f"{other_org.id}:"}).status_code == 404


def test_empty_sections_render(owner, org):
    client = signed_in(owner)
    assert "No prompts yet" in client.get("/prompts/").content.decode()
    assert "No evaluators yet" in client.get("/evals/").content.decode()


# --- settings -----------------------------------------------------------------

def test_projects_can_be_created_and_renamed(owner, org, project):
    client = signed_in(owner)
    client.post("/settings/projects/", {"action": "create", "name": "Staging"})
    staging = Project.objects.get(organization=org, name="Staging")
    client.post("/settings/projects/", {"action": "rename", "project_id": staging.id, "name": "Stage"})
    staging.refresh_from_db()
    assert staging.name == "Stage"
    response = client.post("/settings/projects/", {"action": "create", "name": "Stage"})
    assert response.status_code == 400 and "already exists" in response.content.decode()


def test_an_api_key_is_shown_once_and_can_be_revoked(owner, org, project):
    client = signed_in(owner)
    html = client.post("/settings/api-keys/", {"name": "backend", "project_id": project.id}).content.decode()
    key = ApiKey.objects.get(name="backend")
    raw = html.split('<code id="new-key">')[1].split("</code>")[0]
    assert raw.startswith("sl_live_") and key.prefix in raw
    listing = client.get("/settings/api-keys/").content.decode()
    assert raw not in listing and key.prefix in listing
    client.post(f"/settings/api-keys/{key.id}/revoke/")
    key.refresh_from_db()
    assert key.revoked_at is not None


def test_provider_keys_are_added_renamed_rotated_and_deleted(owner, org, project):
    client = signed_in(owner)
    secret = "sk-proj-supersecret-0000000000001234"
    client.post("/settings/provider-keys/", {"provider": "openai", "project_id": project.id,
                                            "name": "Prod", "secret": secret})
    key = ProviderKey.objects.get(name="Prod")
    page = client.get("/settings/provider-keys/").content.decode()
    assert secret not in page and "••••1234" in page
    client.post(f"/settings/provider-keys/{key.id}/", {"action": "rename", "name": "Production"})
    client.post(f"/settings/provider-keys/{key.id}/", {"action": "rotate", "secret": "sk-new-secret-9876"})
    key.refresh_from_db()
    assert key.name == "Production" and crypto.decrypt(key.encrypted_secret) == "sk-new-secret-9876"
    client.post(f"/settings/provider-keys/{key.id}/", {"action": "delete"})
    assert not ProviderKey.objects.filter(id=key.id).exists()


def test_a_bad_provider_key_form_is_a_form_error(owner, org, project):
    response = signed_in(owner).post("/settings/provider-keys/", {"provider": "openai", "project_id": project.id,
                                                                  "secret": "   "})
    assert response.status_code == 400 and "data-form-error" in response.content.decode()


def test_viewers_read_settings_but_cannot_write(viewer, org, project):
    key = services.add_provider_key(project, "openai", "sk-secret-abcd", "Prod")
    api_key = services.create_api_key(project).api_key
    client = signed_in(viewer)
    for url in ("/settings/projects/", "/settings/api-keys/", "/settings/provider-keys/"):
        html = client.get(url).content.decode()
        assert "data-readonly" in html and "btn-primary" not in html
    assert client.post("/settings/projects/", {"action": "create", "name": "X"}).status_code == 403
    assert client.post("/settings/api-keys/", {"project_id": project.id}).status_code == 403
    assert client.post(f"/settings/api-keys/{api_key.id}/revoke/").status_code == 403
    assert client.post("/settings/provider-keys/", {"provider": "openai", "project_id": project.id,
                                                    "secret": "sk-x"}).status_code == 403
    assert client.post(f"/settings/provider-keys/{key.id}/", {"action": "delete"}).status_code == 403
    assert Project.objects.filter(organization=org).count() == 1
    assert ProviderKey.objects.filter(id=key.id).exists()


def test_members_may_write(member, org, project):
    client = signed_in(member)
    client.post("/settings/projects/", {"action": "create", "name": "Members can"})
    assert Project.objects.filter(name="Members can").exists()


def test_it_checks_ownership_in_settings(owner, org, other_org_and_project):
    _, other_project = other_org_and_project
    theirs = services.add_provider_key(other_project, "openai", "sk-theirs-0000", "Theirs")
    their_api_key = services.create_api_key(other_project).api_key
    client = signed_in(owner)
    assert client.post(f"/settings/provider-keys/{theirs.id}/", {"action": "delete"}).status_code == 404
    assert client.post(f"/settings/api-keys/{their_api_key.id}/revoke/").status_code == 404
    assert client.post("/settings/api-keys/", {"project_id": other_project.id}).status_code == 404
    assert "Theirs" not in client.get("/settings/provider-keys/").content.decode()
    assert ProviderKey.objects.filter(id=theirs.id).exists()


def test_the_trace_tab_lists_the_traces_spans(owner, org, project, other_org_and_project):
    import uuid

    from spanlens.traces.models import Span

    trace_id, span_id = uuid.uuid4(), uuid.uuid4()
    now = datetime.now(timezone.utc)
    Span.objects.create(id=span_id, trace_id=trace_id, organization=org, name="answer", span_type="llm",
                        status="completed", started_at=now, duration_ms=812)
    Span.objects.create(trace_id=trace_id, organization=org, name="search docs", span_type="retrieval",
                        status="completed", started_at=now - timedelta(seconds=1), duration_ms=40)
    other_org, _ = other_org_and_project
    Span.objects.create(trace_id=trace_id, organization=other_org, name="not yours", started_at=now)
    row = make_row(org, project, trace_id=str(trace_id), span_id=str(span_id))
    queries.insert_requests([row])
    html = signed_in(owner).get(f"/requests/{row['id']}/drawer/", headers=HTMX).content.decode()
    assert "search docs" in html and "answer" in html and "812 ms" in html
    assert "not yours" not in html
    assert f'href="/traces/{trace_id}"' in html


def test_the_filter_form_pushes_a_tidy_url_and_polling_pushes_nothing(owner, log):
    client = signed_in(owner)
    form = client.get("/requests/?q=&provider=openai&model=&status=all&sortBy=created_at&sortDir=desc",
                      headers={**HTMX, "HX-Target": "request-list", "HX-Trigger": "filters"})
    assert form["HX-Push-Url"] == "/requests/?provider=openai"
    poll = client.get("/requests/?provider=openai",
                      headers={**HTMX, "HX-Target": "request-list", "HX-Trigger": "request-list"})
    assert "HX-Push-Url" not in poll


def test_switching_stays_in_the_section_and_never_leaves_the_site(owner, org):
    second_org, _ = services.create_organization("Second Co", owner)
    client = signed_in(owner)
    response = client.post("/switch/", {"target": f"{second_org.id}:", "next": "/users/"})
    assert response["Location"] == "/users/"
    response = client.post("/switch/", {"target": f"{org.id}:", "next": "https://evil.example/"})
    assert response["Location"] == "/requests/"


def test_the_drawer_finds_its_row_again_after_new_traffic(owner, org, project, log):
    ordered = newest_first(log["rows"])
    # Three new calls arrive while the drawer shows the 10th row.
    queries.insert_requests([make_row(org, project, created_at=datetime.now(timezone.utc)) for _ in range(3)])
    html = signed_in(owner).get(f"/requests/{ordered[9]['id']}/drawer/?pos=9", headers=HTMX).content.decode()
    assert f"/requests/{ordered[10]['id']}/drawer/?pos=13" in html
    assert f"/requests/{ordered[8]['id']}/drawer/?pos=11" in html


def test_the_project_chosen_in_the_switcher_scopes_the_pages(owner, org, project):
    second = services.create_project(org, "Second")
    queries.insert_requests([make_row(org, second, user_id="only-in-second") for _ in range(4)]
                            + [make_row(org, project, user_id="only-in-default") for _ in range(6)])
    client = signed_in(owner)
    client.post("/switch/", {"target": f"{org.id}:{second.id}"})
    html = client.get("/requests/").content.decode()
    assert "1–4 of 4" in html
    users = client.get("/users/").content.decode()
    assert "only-in-second" in users and "only-in-default" not in users
    # The URL still wins: all projects.
    assert "1–10 of 10" in client.get("/requests/?projectId=").content.decode()

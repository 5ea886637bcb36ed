"""Saved views (private or shared, the default view) and share links (redaction, expiry,
view count, revocation), with the owner, a member, a viewer and an outsider."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from spanlens.requestlog import queries
from spanlens.sharing import services
from spanlens.sharing.models import SavedView, Share
from tests.seed import make_row
from tests.test_traces_pages import seed_agent_trace


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- saved views ---------------------------------------------------------------------

def test_a_saved_view_appears_in_the_bar_and_opens_its_filters(owner, org):
    client = client_for(owner)
    response = client.post("/views/", {"page": "requests", "view_name": "Slow Anthropic",
                                       "query": "provider=anthropic&status=5xx&page=3"})
    assert response.status_code == 302
    assert response["Location"] == "/requests/?provider=anthropic&status=5xx"
    view = SavedView.objects.get(organization=org, name="Slow Anthropic")
    assert view.query == "provider=anthropic&status=5xx" and view.shared is False

    page = client.get("/requests/?provider=anthropic&status=5xx").content.decode()
    assert 'data-view="Slow Anthropic"' in page
    assert re.search(r'class="view-chip active" data-view="Slow Anthropic"', page)


def test_a_private_view_is_only_its_owners_and_a_shared_one_the_organizations(owner, member, org):
    services.save_view(organization=org, user=owner, page="traces", name="Mine", query="status=error", shared=False)
    services.save_view(organization=org, user=owner, page="traces", name="Team", query="status=completed", shared=True)
    page = client_for(member).get("/traces?view=none").content.decode()
    assert 'data-view="Team"' in page and 'data-view="Mine"' not in page


def test_the_default_view_opens_when_the_page_is_opened_bare(owner, member, org):
    view = services.save_view(organization=org, user=owner, page="users", name="By requests",
                              query="sortBy=requests", shared=True)
    client = client_for(member)
    assert client.post(f"/views/{view.id}/", {"action": "default"}).status_code == 302
    response = client.get("/users/")
    assert response.status_code == 302 and response["Location"] == "/users/?sortBy=requests"
    # The owner did not choose it: their page opens unfiltered.
    assert client_for(owner).get("/users/").status_code == 200
    # "All" never bounces back to the default.
    assert client.get("/users/?view=none").status_code == 200


def test_only_the_owner_deletes_a_view(owner, member, org):
    view = services.save_view(organization=org, user=owner, page="requests", name="Team", query="status=4xx",
                              shared=True)
    assert client_for(member).post(f"/views/{view.id}/", {"action": "delete"}).status_code == 403
    assert client_for(owner).post(f"/views/{view.id}/", {"action": "delete"}).status_code == 302
    assert not SavedView.objects.filter(id=view.id).exists()


def test_it_checks_ownership_of_views(owner, org, outsider, other_org_and_project):
    mine = services.save_view(organization=org, user=owner, page="requests", name="Team", query="status=4xx",
                              shared=True)
    client = client_for(outsider)
    assert client.post(f"/views/{mine.id}/", {"action": "default"}).status_code == 404
    assert 'data-view="Team"' not in client.get("/requests/?view=none").content.decode()


def test_a_viewer_keeps_views_private_and_a_nameless_view_is_a_form_error(viewer, org):
    client = client_for(viewer)
    assert client.post("/views/", {"page": "requests", "view_name": "x", "query": "", "shared": "on"}).status_code == 403
    response = client.post("/views/", {"page": "requests", "view_name": "  ", "query": "status=ok"}, follow=True)
    assert response.status_code == 200
    assert "View not saved: Give the view a name." in response.content.decode()
    assert client.post("/views/", {"page": "requests", "view_name": "Mine", "query": "status=ok"}).status_code == 302


# --- share links ---------------------------------------------------------------------

@pytest.fixture
def logged_request(org, project):
    row = make_row(org, project, provider="openai", model="gpt-4o-mini", status_code=200, user_id="cust-42",
                   session_id="chat-7", request_body='{"messages": [{"role": "user", "content": "secret plan"}]}',
                   response_body='{"choices": [{"message": {"content": "the answer"}}]}', trace_id=None)
    queries.insert_requests([row])
    return row


def share_link(client, kind, target_id, **hidden) -> str:
    data = {"kind": kind, "target_id": str(target_id), "expires": hidden.pop("expires", "7")}
    data.update({f"hide_{name}": "on" for name, on in hidden.items() if on})
    response = client.post("/shares/new/", data)
    assert response.status_code == 302, response.content
    page = client.get("/shares/").content.decode()
    return re.search(r'data-share-url>https?://[^/]+(/s/[^<]+)</code>', page).group(1)


def test_a_shared_request_shows_what_was_chosen_to_a_signed_out_visitor(owner, org, logged_request):
    link = share_link(client_for(owner), "request", logged_request["id"], bodies=True, user_ids=False,
                      metadata=True)
    page = Client().get(link)
    assert page.status_code == 200
    text = page.content.decode()
    assert "gpt-4o-mini" in text and "cust-42" in text
    assert "secret plan" not in text and "the answer" not in text and "data-bodies-hidden" in text
    assert str(org.id) not in text and logged_request["project_id"] not in text
    share = Share.objects.get()
    assert share.view_count == 1 and len(share.token_hash) == 64 and share.token_hash not in link


def test_bodies_show_when_not_hidden_and_user_ids_hide_when_chosen(owner, logged_request):
    link = share_link(client_for(owner), "request", logged_request["id"], bodies=False, user_ids=True)
    text = Client().get(link).content.decode()
    assert "secret plan" in text and "the answer" in text
    assert "cust-42" not in text and "chat-7" not in text


def test_a_shared_trace_with_bodies_hidden_reveals_no_span_input(owner, org, project):
    trace_id, _, _ = seed_agent_trace(org, project)
    link = share_link(client_for(owner), "trace", trace_id, bodies=True, user_ids=True, metadata=True)
    text = Client().get(link).content.decode()
    assert "support-agent" in text and "lookup_order" in text
    assert "Where is order A-1?" not in text and "shipped" not in text and "TimeoutError" not in text
    assert "cust-42" not in text and "chat-7" not in text


def test_a_revoked_or_expired_link_no_longer_opens(owner, logged_request):
    client = client_for(owner)
    link = share_link(client, "request", logged_request["id"], bodies=True)
    share = Share.objects.get()
    assert client.post(f"/shares/{share.id}/revoke/").status_code == 302
    assert Client().get(link).status_code == 404

    link = share_link(client, "request", logged_request["id"], bodies=True, expires="1")
    Share.objects.filter(revoked_at__isnull=True).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert Client().get(link).status_code == 404
    assert Client().get("/s/not-a-token/").status_code == 404


def test_viewers_cannot_share_or_revoke(viewer, owner, logged_request):
    client = client_for(viewer)
    response = client.post("/shares/new/", {"kind": "request", "target_id": logged_request["id"], "expires": "7"})
    assert response.status_code == 403
    assert 'data-share-box' not in client.get(f"/requests/{logged_request['id']}/").content.decode()
    share_link(client_for(owner), "request", logged_request["id"], bodies=True)
    assert client.post(f"/shares/{Share.objects.get().id}/revoke/").status_code == 403


def test_it_checks_ownership_of_shares(outsider, other_org_and_project, owner, logged_request):
    client = client_for(outsider)
    response = client.post("/shares/new/", {"kind": "request", "target_id": logged_request["id"], "expires": "7"})
    assert response.status_code == 404
    share_link(client_for(owner), "request", logged_request["id"], bodies=True)
    share = Share.objects.get()
    assert client.post(f"/shares/{share.id}/revoke/").status_code == 404
    assert str(share.id) not in client.get("/shares/").content.decode()


def test_a_bad_expiry_is_a_form_error(owner, logged_request):
    response = client_for(owner).post("/shares/new/", {"kind": "request", "target_id": logged_request["id"],
                                                       "expires": "forever"}, follow=True)
    assert "Not shared: expires must be one of" in response.content.decode()
    assert not Share.objects.exists()

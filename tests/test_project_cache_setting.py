"""The project's response-cache switch: on for every call of the project unless the
call's own header says otherwise, set from the Projects settings page."""
from __future__ import annotations

from proxy import auth, cache
from spanlens.core import services
from spanlens.core.models import Project
from tests import mock_upstream as mock

MESSAGES = [{"role": "user", "content": "Cache me by project"}]


def chat_calls(upstream) -> int:
    return upstream.count(lambda r: r.path.endswith("/chat/completions"))


def test_a_project_with_the_cache_on_serves_repeats_without_any_header(
    live_db, upstream, provider_keys, openai_client, org, project, read_rows
):
    services.set_response_cache(project, enabled=True, ttl="2h")
    auth.clear_cache()
    first = openai_client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES)
    assert first.headers["x-spanlens-cache"] == "miss"
    read_rows(org.id, expect=1)
    second = openai_client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES)
    assert second.headers["x-spanlens-cache"] == "hit"
    assert second.parse().choices[0].message.content == mock.REPLY
    # The call's own header still wins.
    third = openai_client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=MESSAGES, extra_headers={"x-spanlens-cache": "off"})
    assert "x-spanlens-cache" not in third.headers
    assert chat_calls(upstream) == 2


def test_the_project_ttl_is_the_default_and_a_header_ttl_overrides_it():
    key = dict(project_id="p", provider="openai", method="POST", path="v1/chat/completions", query_string=b"",
               body=b"{}", parsed={})
    assert cache.request_for({}, **key) is None
    assert cache.request_for({}, **key, project_ttl_s=7200).ttl_s == 7200
    assert cache.request_for({"cache_ttl": "5m"}, **key, project_ttl_s=7200).ttl_s == 300
    assert cache.request_for({"cache": "off"}, **key, project_ttl_s=7200) is None
    assert cache.request_for({"cache": "on"}, **key).ttl_s == cache.DEFAULT_TTL_S
    assert [cache.format_ttl(s) for s in (3600, 90, 900, 7 * 86400)] == ["1h", "90s", "15m", "7d"]


def test_the_projects_page_switches_the_cache_and_refuses_a_bad_ttl(client, owner, org, project):
    client.force_login(owner)
    page = client.get("/settings/projects/")
    assert page.status_code == 200 and 'id="response-cache"' in page.content.decode()
    saved = client.post("/settings/projects/", {"action": "response_cache", "project_id": project.id,
                                                "cache": "on", "ttl": "30m"})
    assert saved.status_code == 302
    assert Project.objects.get(id=project.id).response_cache_ttl_s == 1800
    bad = client.post("/settings/projects/", {"action": "response_cache", "project_id": project.id,
                                              "cache": "on", "ttl": "forever"})
    assert bad.status_code == 400 and "TTL" in bad.content.decode()
    assert Project.objects.get(id=project.id).response_cache_ttl_s == 1800
    client.post("/settings/projects/", {"action": "response_cache", "project_id": project.id, "cache": "off"})
    assert Project.objects.get(id=project.id).response_cache_ttl_s == 0


def test_a_viewer_cannot_switch_it_and_an_outsider_cannot_reach_it(client, org, project, viewer, outsider):
    for who in (viewer, outsider):
        client.force_login(who)
        response = client.post("/settings/projects/", {"action": "response_cache", "project_id": project.id,
                                                       "cache": "on", "ttl": "1h"})
        assert response.status_code in (403, 404)
    assert Project.objects.get(id=project.id).response_cache_ttl_s == 0

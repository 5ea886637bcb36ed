"""The prompt pages through Django's test client: every tab renders, forms write through
the services, bad input is a form error, and other tenants get 404."""
from __future__ import annotations

import re

import pytest

from evals import prompt_services as services
from evals.models import Prompt, PromptExperiment, PromptVersion

TABS = ("versions", "diff", "labels", "playground", "calls", "ab")


@pytest.fixture
def prompt(org, project, owner):
    prompt = services.create_prompt(org, project, "faq", template="Answer {{question}} for {{product}}",
                                   commit_note="first cut", actor=owner, description="Answers product questions")
    services.create_version(prompt, template="Answer briefly: {{question}} ({{product}})", commit_note="shorter",
                            actor=owner)
    services.move_label(prompt, "production", prompt.versions.get(version=1), actor=owner)
    return prompt


@pytest.fixture
def signed_in(client, owner):
    client.force_login(owner)
    return client


def test_the_list_shows_versions_labels_and_traffic(signed_in, prompt):
    page = signed_in.get("/prompts/").content.decode()
    assert 'data-prompt="faq"' in page and "v2" in page and "production" in page
    assert "Calls · 7d" in page and "stat-spark" in page


@pytest.mark.parametrize("tab", TABS)
def test_every_tab_renders(signed_in, prompt, tab):
    response = signed_in.get(f"/prompts/faq/?tab={tab}")
    assert response.status_code == 200
    assert 'class="active" data-tab-link="%s"' % tab in response.content.decode()


def test_variables_are_highlighted_and_escaped(signed_in, org, project):
    services.create_prompt(org, project, "xss", template="<script>x</script> {{name}}")
    page = signed_in.get("/prompts/xss/").content.decode()
    assert "&lt;script&gt;x&lt;/script&gt;" in page
    assert '<mark class="var" data-var="name">{{name}}</mark>' in page


def test_the_diff_shows_changed_lines_side_by_side(signed_in, prompt):
    page = signed_in.get("/prompts/faq/?tab=diff&a=1&b=2").content.decode()
    assert 'class="d-replace"' in page
    assert "Answer briefly:" in page and "Answer <mark" in page


def test_creating_a_prompt_and_a_version_from_the_forms(signed_in, project):
    response = signed_in.post("/prompts/new/", {
        "name": "welcome", "kind": "text", "template": "Hi {{user}}", "vardesc_user": "first name",
        "varreq_user": "on", "config_model": "gpt-4o-mini", "config_temperature": "0.3", "commit_note": "v1"})
    assert response.status_code == 302 and response["Location"] == "/prompts/welcome/"
    v1 = PromptVersion.objects.get(prompt__name="welcome")
    assert v1.variables == [{"name": "user", "description": "first name", "required": True}]
    assert v1.model_config == {"model": "gpt-4o-mini", "temperature": 0.3}
    response = signed_in.post("/prompts/welcome/versions/", {
        "kind": "chat", "message_count": "4", "role_0": "system", "content_0": "Be {{tone}}",
        "role_1": "user", "content_1": "Hi {{user}}", "vardesc_user": "", "commit_note": "chat now"})
    assert response.status_code == 302 and response["Location"] == "/prompts/welcome/?version=2"
    v2 = PromptVersion.objects.get(prompt__name="welcome", version=2)
    assert v2.messages == [{"role": "system", "content": "Be {{tone}}"}, {"role": "user", "content": "Hi {{user}}"}]
    assert [v["required"] for v in v2.variables] == [True, False]


def test_bad_input_is_shown_beside_the_form(signed_in, prompt):
    response = signed_in.post("/prompts/faq/versions/", {"kind": "text", "template": "  "})
    assert response.status_code == 400
    assert "template: is required for a text prompt" in response.content.decode()
    response = signed_in.post("/prompts/new/", {"name": "faq", "kind": "text", "template": "x"})
    assert response.status_code == 400 and "already exists" in response.content.decode()
    response = signed_in.post("/prompts/faq/versions/", {"kind": "text", "template": "x", "config_max_tokens": "lots"})
    assert response.status_code == 400 and "model_config.max_tokens" in response.content.decode()


def test_moving_a_label_from_the_page(signed_in, prompt):
    response = signed_in.post("/prompts/faq/labels/", {"label": "production", "version": "2"}, follow=True)
    assert "production now points at version 2" in response.content.decode()
    assert services.version_for(prompt, label="production").version == 2
    page = signed_in.get("/prompts/faq/?tab=labels").content.decode()
    assert re.search(r"v1</td>|v1 → v2", page)


def test_starting_and_stopping_a_test_from_the_page(signed_in, prompt):
    response = signed_in.post("/prompts/faq/experiments/", {"label": "production", "arm_b": "2", "split_b": "20",
                                                            "assignment_key": "session_id"})
    experiment = PromptExperiment.objects.get(prompt=prompt)
    assert response["Location"] == f"/prompts/faq/?tab=ab&experiment={experiment.id}"
    page = signed_in.get(response["Location"]).content.decode()
    assert "Not enough data yet" in page and 'data-arm="B"' in page
    signed_in.post(f"/prompts/faq/experiments/{experiment.id}/stop/")
    experiment.refresh_from_db()
    assert experiment.stopped_at is not None


def test_a_bad_experiment_says_why(signed_in, prompt):
    response = signed_in.post("/prompts/faq/experiments/", {"label": "production", "arm_b": "1"}, follow=True)
    assert "arm_b: must differ from arm A" in response.content.decode()


# --- tenant isolation ---------------------------------------------------------------

PAGES = ["/prompts/faq/?tab=" + tab for tab in TABS]
POSTS = [
    ("/prompts/faq/versions/", {"kind": "text", "template": "x"}),
    ("/prompts/faq/versions/2/archive/", {}),
    ("/prompts/faq/labels/", {"label": "production", "version": "2"}),
    ("/prompts/faq/playground/", {"version": "1", "provider": "openai"}),
    ("/prompts/faq/experiments/", {"label": "production", "arm_b": "2"}),
    ("/prompts/faq/experiments/{exp}/stop/", {}),
]


@pytest.fixture
def experiment(prompt):
    return services.start_experiment(prompt, arm_b=prompt.versions.get(version=2))


def test_an_outsider_gets_404_on_every_page_and_form(client, prompt, experiment, outsider, other_org_and_project):
    client.force_login(outsider)
    for url in PAGES:
        assert client.get(url).status_code == 404, url
    for url, data in POSTS:
        assert client.post(url.format(exp=experiment.id), data).status_code == 404, url
    assert "faq" not in client.get("/prompts/").content.decode()
    assert PromptVersion.objects.filter(prompt=prompt).count() == 2


def test_a_viewer_reads_every_page_but_cannot_change_anything(client, prompt, experiment, viewer):
    client.force_login(viewer)
    for url in PAGES:
        assert client.get(url).status_code == 200, url
    for url, data in POSTS:
        assert client.post(url.format(exp=experiment.id), data).status_code == 403, url
    assert client.get("/prompts/new/").status_code == 403
    assert PromptVersion.objects.filter(prompt=prompt).count() == 2
    assert "New version" not in client.get("/prompts/faq/").content.decode()


def test_a_member_can_write(client, prompt, member):
    client.force_login(member)
    assert client.post("/prompts/faq/versions/", {"kind": "text", "template": "m {{q}}"}).status_code == 302
    assert Prompt.objects.get(id=prompt.id).versions.count() == 3


@pytest.mark.parametrize("provider, model", [("openai", "gpt-4o-mini"), ("anthropic", "claude-3-5-haiku-20241022"),
                                             ("gemini", "gemini-1.5-flash")])
def test_the_playground_runs_through_the_provider_key_and_logs_the_version(
    live_db, upstream, provider_keys, client, owner, org, project, read_rows, provider, model
):
    prompt = services.create_prompt(org, project, "pg", kind="chat", messages=[
        {"role": "system", "content": "You sell {{product}}."}, {"role": "user", "content": "{{question}}"}])
    client.force_login(owner)
    response = client.post("/prompts/pg/playground/", {"version": "1", "provider": provider, "model": model,
                                                       "var_product": "lamps", "var_question": "Price?",
                                                       "max_tokens": "64"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200, response.content
    page = response.content.decode()
    assert "data-pg-output" in page and "Logged request" in page
    [row] = read_rows(org.id, expect=1)
    assert row["prompt_version_id"] == str(prompt.versions.get().id)
    assert row["provider"] == provider and row["status_code"] == 200 and row["total_tokens"] > 0
    assert "lamps" in row["request_body"] and "Price?" in row["request_body"]
    assert f'/requests/{row["id"]}/' in page
    [sent] = upstream.requests
    assert "lamps" in sent.body.decode()


def test_the_playground_names_missing_variables(live_db, upstream, provider_keys, client, owner, org, project):
    services.create_prompt(org, project, "pg2", template="{{a}} and {{b}}")
    client.force_login(owner)
    response = client.post("/prompts/pg2/playground/", {"version": "1", "provider": "openai", "var_a": "x"},
                           HTTP_HX_REQUEST="true")
    assert response.status_code == 400 and "variables: fill in b" in response.content.decode()


def test_an_organization_without_prompts_is_told_how_to_start(signed_in, org):
    page = signed_in.get("/prompts/").content.decode()
    assert "No prompts yet" in page and 'spanlens.prompts.get("name", label="production")' in page


def _prompt_urls():
    from evals import prompts_urls

    for pattern in prompts_urls.urlpatterns:
        route = str(pattern.pattern)
        for part in ("<str:name>", "<str:experiment_id>", "<str:label>", "<int:number>"):
            route = route.replace(part, {"<int:number>": "1", "<str:experiment_id>": "0" * 8}.get(part, "faq"))
        yield pattern.name, "/" + route


@pytest.mark.parametrize("name, url", list(_prompt_urls()), ids=lambda v: v if isinstance(v, str) else "")
def test_every_prompt_url_needs_a_sign_in_or_a_key(db, client, name, url):
    for method in ("get", "post"):
        response = getattr(client, method)(url)
        if url.startswith("/api/"):
            assert response.status_code in (401, 405), (method, url)
        else:
            assert response.status_code in (302, 405), (method, url)
            if response.status_code == 302:
                assert response["Location"].startswith("/login/")

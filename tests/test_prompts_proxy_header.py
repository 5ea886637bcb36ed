"""x-spanlens-prompt-version in every form, resolved after the response to the real version id."""
from __future__ import annotations

import time
import uuid

import pytest

from evals import prompt_resolve
from evals import prompt_services as services
from proxy.logentry import prompt_version_uuid


@pytest.fixture
def prompt(live_db, org, project, owner):
    prompt_resolve.clear()
    prompt = services.create_prompt(org, project, "greeter", template="Hello {{name}}", actor=owner)
    services.create_version(prompt, template="Hi {{name}}", actor=owner)
    services.create_version(prompt, template="Hey {{name}}", actor=owner)
    services.move_label(prompt, "production", prompt.versions.get(version=2), actor=owner)
    return prompt


def call(client, header):
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}],
                                   extra_headers={"x-spanlens-prompt-version": header})


def ids(prompt):
    return {v.version: str(v.id) for v in prompt.versions.all()}


def test_every_header_form_lands_on_the_version_id(prompt, upstream, provider_keys, openai_client, org, read_rows):
    v = ids(prompt)
    stranger = str(uuid.uuid4())
    forms = [v[1], "greeter@3", "greeter@production", "greeter@latest", "greeter@02", stranger, "not-a-ref"]
    for header in forms:
        call(openai_client, header)
    rows = read_rows(org.id, expect=len(forms))
    assert [r["prompt_version_id"] for r in rows] == [v[1], v[3], v[2], v[3], v[2], stranger, None]


def test_a_label_move_and_a_new_version_are_seen_at_once(prompt, upstream, provider_keys, openai_client, org,
                                                         read_rows, owner):
    call(openai_client, "greeter@production")
    call(openai_client, "greeter@latest")
    read_rows(org.id, expect=2, settle=0)
    services.move_label(prompt, "production", prompt.versions.get(version=3), actor=owner)
    v4 = services.create_version(prompt, template="Yo {{name}}", actor=owner)
    call(openai_client, "greeter@production")
    call(openai_client, "greeter@latest")
    rows = read_rows(org.id, expect=4)
    v = ids(prompt)
    assert [r["prompt_version_id"] for r in rows] == [v[2], v[3], v[3], str(v4.id)]


def test_calls_named_before_the_prompt_exists_link_up_when_it_is_created(
    live_db, upstream, provider_keys, openai_client, org, project, read_rows
):
    prompt_resolve.clear()
    call(openai_client, "later@1")
    call(openai_client, "later@production")
    first, labelled = read_rows(org.id, expect=2)
    # Until the prompt exists, the ids are the ones the proxy always recorded (old rows are the same).
    assert first["prompt_version_id"] == prompt_version_uuid("later@1", str(org.id))
    assert labelled["prompt_version_id"] == prompt_version_uuid("later@production", str(org.id))
    prompt = services.create_prompt(org, project, "later", template="x")
    assert str(prompt.versions.get().id) == first["prompt_version_id"]


def test_a_slow_or_failing_resolution_never_delays_or_fails_the_call(
    prompt, upstream, provider_keys, openai_client, org, read_rows, monkeypatch
):
    def broken(*args):
        time.sleep(3.0)
        raise RuntimeError("database gone")

    monkeypatch.setattr(prompt_resolve, "_lookup", broken)
    started = time.perf_counter()
    call(openai_client, "greeter@production")
    elapsed = time.perf_counter() - started
    assert elapsed < 2.0, elapsed  # a call that waited would take the 3 s lookup's time
    [row] = read_rows(org.id, expect=1)
    assert row["status_code"] == 200
    assert row["prompt_version_id"] == prompt_version_uuid("greeter@production", str(org.id))


def test_names_resolve_only_within_the_callers_organization(
    prompt, upstream, provider_keys, openai_client, org, other_org_and_project, read_rows
):
    other_org, other_project = other_org_and_project
    theirs = services.create_prompt(other_org, other_project, "theirs", template="x")
    services.move_label(theirs, "production", theirs.versions.get())
    call(openai_client, "theirs@production")
    [row] = read_rows(org.id, expect=1)
    assert row["prompt_version_id"] == prompt_version_uuid("theirs@production", str(org.id))
    assert row["prompt_version_id"] != str(theirs.versions.get().id)

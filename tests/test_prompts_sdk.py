"""spanlens.prompts: rendering, and the cache against a real server process that is then stopped."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from django.db import connection

from evals import prompt_services as services
from spanlens import prompts
from tests.procs import ROOT, database_url_for, web_server

REDIS = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
TTL = 1.5  # the cache's freshness in the test (60 s in apps)


def test_render_names_every_missing_required_variable():
    prompt = prompts.Prompt(name="p", version=2, id="x", template="Dear {{name}}, re {{topic}} {{sig}}",
                            variables=[{"name": "name", "required": True}, {"name": "topic", "required": True},
                                       {"name": "sig", "required": False}])
    with pytest.raises(prompts.MissingVariablesError) as exc:
        prompt.render(sig="-- A")
    assert exc.value.missing == ["name", "topic"]
    assert str(exc.value) == "prompt 'p@2' needs name, topic (missing variables)"
    assert prompt.render(name="Ann", topic="billing") == "Dear Ann, re billing "
    assert prompt.render(name="Ann", topic=3, sig="x") == "Dear Ann, re 3 x"


def test_messages_fill_every_message_and_a_text_prompt_becomes_one_user_message():
    chat = prompts.Prompt(name="c", version=1, id="x", kind="chat", chat=[
        {"role": "system", "content": "You work for {{company}}."}, {"role": "user", "content": "{{ question }}"}])
    assert chat.messages(company="Acme", question="Hi?") == [
        {"role": "system", "content": "You work for Acme."}, {"role": "user", "content": "Hi?"}]
    with pytest.raises(prompts.MissingVariablesError) as exc:
        chat.messages()
    assert exc.value.missing == ["company", "question"]
    text = prompts.Prompt(name="t", version=1, id="x", template="Say {{w}}")
    assert text.messages(w="hi") == [{"role": "user", "content": "Say hi"}]


def test_the_header_is_the_version_id_and_a_fallback_has_none():
    prompt = prompts.Prompt(name="p", version=1, id="0b6c0a52-4a3a-5a53-9a3b-3c7c8f7f0e11")
    assert prompt.header == prompt.id
    assert prompt.headers == {"x-spanlens-prompt-version": prompt.id}
    fallback = prompts._fallback("p", "Hello {{name}}")
    assert fallback.is_fallback and fallback.header is None and fallback.headers == {}
    assert fallback.render(name="Bo") == "Hello Bo"


def test_assignment_is_deterministic_and_splits_as_configured():
    arms = [prompts.assign_arm("exp-1", f"user-{i}", 20) for i in range(5000)]
    assert arms == [prompts.assign_arm("exp-1", f"user-{i}", 20) for i in range(5000)]
    assert 0.18 < arms.count("B") / len(arms) < 0.22


def test_the_sdk_never_imports_django():
    code = "import sys, spanlens; spanlens.get_prompt; assert not any(m.startswith('django') for m in sys.modules), 'django'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env={"PATH": os.environ["PATH"]})


@pytest.fixture
def test_database_url(transactional_db):
    if connection.vendor != "postgresql":
        pytest.skip("needs the real PostgreSQL (make test)")
    return database_url_for(connection.settings_dict["NAME"])


def test_the_cache_revalidates_in_the_background_and_serves_stale_with_the_server_stopped(
    tmp_path, test_database_url, live_db, org, project, api_key, owner
):
    prompt = services.create_prompt(org, project, "reply", template="v1 {{name}}", actor=owner)
    services.create_version(prompt, template="v2 {{name}}", actor=owner)
    services.move_label(prompt, "production", prompt.versions.get(version=1), actor=owner)
    experiment_prompt = services.create_prompt(org, project, "ab", template="A {{x}}", actor=owner)
    services.create_version(experiment_prompt, template="B {{x}}", actor=owner)
    services.move_label(experiment_prompt, "production", experiment_prompt.versions.get(version=1))
    experiment = services.start_experiment(experiment_prompt, arm_b=experiment_prompt.versions.get(version=2))

    with web_server(tmp_path, DATABASE_URL=test_database_url, REDIS_URL=REDIS) as url:
        ab_client = prompts.PromptClient(api_key=api_key[1], base_url=url, cache_ttl=0.5)
        arms = {u: ab_client.get("ab", label="production", user_id=u) for u in ("u1", "u2", "u3", "u4", "u5", "u6")}
        for user, served in arms.items():
            assert served.arm == prompts.assign_arm(str(experiment.id), user, 50)
            assert served.render(x="1") == f"{served.arm} 1"
            assert served.headers["x-spanlens-user"] == user
        with pytest.raises(prompts.PromptNotFound):
            ab_client.get("reply", label="staging")
        with pytest.raises(prompts.PromptNotFound):
            ab_client.get("no-such-prompt")

        client = prompts.PromptClient(api_key=api_key[1], base_url=url, cache_ttl=TTL)
        first = client.get("reply", label="production")
        assert (first.version, first.render(name="x")) == (1, "v1 x")
        services.move_label(prompt, "production", prompt.versions.get(version=2), actor=owner)
        assert client.get("reply", label="production").version == 1  # still fresh
        time.sleep(TTL + 0.1)
        started = time.perf_counter()
        stale = client.get("reply", label="production")
        # Stale at once, refreshed behind: a get that waited for the server would have brought
        # version 2 (the label moved); the bound only catches a hang, not a busy machine's delay.
        assert stale.version == 1 and time.perf_counter() - started < 1.0
        deadline = time.monotonic() + 5
        while client.get("reply", label="production").version != 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert client.get("reply", label="production").version == 2

    # The server process is gone now.
    time.sleep(TTL + 0.1)
    started = time.perf_counter()
    served = client.get("reply", label="production")
    assert served.version == 2 and time.perf_counter() - started < 1.0  # no wait on the dead server
    for user, before in arms.items():  # assignment needs no server: everyone keeps their arm
        assert ab_client.get("ab", label="production", user_id=user).arm == before.arm

    cold = prompts.PromptClient(api_key=api_key[1], base_url=url, cache_ttl=0.5)
    fallback = cold.get("reply", label="production", fallback="Hello {{name}}")
    assert fallback.is_fallback and fallback.render(name="Bo") == "Hello Bo"
    with pytest.raises(prompts.PromptUnavailable) as exc:
        cold.get("reply", label="production")
    assert url in str(exc.value)

"""The served A/B test end to end: the SDK serves each user their arm, the app sends that
arm's text through the proxy, and every logged call carries the arm it actually sent."""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import orjson
import pytest

from evals import prompt_results
from evals import prompt_services as services
from spanlens import prompts
from spanlens.requestlog import queries
from spanlens.requestlog.writer import get_writer

USERS = 1000


@pytest.fixture
def experiment(live_db, org, project, owner):
    prompt = services.create_prompt(org, project, "checkout-help", kind="chat", actor=owner, messages=[
        {"role": "system", "content": "Arm A: be brief."}, {"role": "user", "content": "Help {{user}}"}])
    services.create_version(prompt, kind="chat", actor=owner, messages=[
        {"role": "system", "content": "Arm B: be warm and detailed."}, {"role": "user", "content": "Help {{user}}"}])
    services.move_label(prompt, "production", prompt.versions.get(version=1), actor=owner)
    return services.start_experiment(prompt, arm_b=prompt.versions.get(version=2), split_b=50)


def logged_rows(org_id, expect):
    deadline = time.monotonic() + 20
    while True:
        get_writer().flush()
        rows = list(queries.iter_requests_for_export(organization_id=str(org_id)))
        if len(rows) >= expect or time.monotonic() > deadline:
            return rows
        time.sleep(0.1)


def test_each_logged_body_matches_its_tagged_arm_and_the_split_holds(
    experiment, spanlens_server, upstream, provider_keys, openai_client, sl_key, org
):
    client = prompts.PromptClient(api_key=sl_key, base_url=spanlens_server.url)
    served = {}

    def visit(i):
        user = f"user-{i}"
        prompt = client.get("checkout-help", label="production", user_id=user)
        served[user] = prompt.arm
        openai_client.chat.completions.create(model="gpt-4o-mini", messages=prompt.messages(user=user),
                                              extra_headers=prompt.headers)

    # Users arrive concurrently, as they would; the proxy sees 8 calls at a time.
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(visit, range(USERS)))
    # Sticky: asking again gives every user the same arm.
    assert all(client.get("checkout-help", label="production", user_id=u).arm == arm for u, arm in served.items())

    rows = logged_rows(org.id, USERS)
    assert len(rows) == USERS
    system_text = {str(experiment.arm_a_id): "Arm A: be brief.", str(experiment.arm_b_id): "Arm B: be warm and detailed."}
    matches = 0
    for row in rows:
        body = orjson.loads(row["request_body"])
        assert body["messages"][1]["content"] == f"Help {row['user_id']}"
        matches += body["messages"][0]["content"] == system_text[row["prompt_version_id"]]
        assert row["prompt_version_id"] == str(experiment.arm_b_id if served[row["user_id"]] == "B"
                                               else experiment.arm_a_id)
    assert matches == USERS
    share_b = sum(1 for arm in served.values() if arm == "B") / USERS
    assert 0.45 <= share_b <= 0.55, share_b

    results = prompt_results.experiment_results(experiment)
    assert results.arm_a.calls + results.arm_b.calls == USERS
    assert results.arm_a.units + results.arm_b.units == USERS
    assert results.srm_unit == "units" and not results.srm_mismatch
    assert results.enough_data and results.verdict

"""The request list, drawer and page show name@version linked to the prompt, and
/requests?promptVersionId= takes name@version as well as an id."""
from __future__ import annotations

import pytest

from evals import prompt_services as services
from proxy.logentry import prompt_version_uuid
from spanlens.requestlog import queries
from tests.seed import make_row


@pytest.fixture
def logged(org, project, owner):
    prompt = services.create_prompt(org, project, "triage", template="Sort {{ticket}}", actor=owner)
    v2 = services.create_version(prompt, template="Sort fast {{ticket}}", actor=owner)
    services.move_label(prompt, "production", v2, actor=owner)
    rows = [
        make_row(org, project, prompt_version_id=str(prompt.versions.get(version=1).id)),
        make_row(org, project, prompt_version_id=str(v2.id)),
        make_row(org, project, prompt_version_id=prompt_version_uuid("triage@staging", str(org.id))),
        make_row(org, project, prompt_version_id=prompt_version_uuid("ghost@1", str(org.id))),
        make_row(org, project),
    ]
    queries.insert_requests(rows)
    return prompt, rows


@pytest.fixture
def signed_in(client, owner):
    client.force_login(owner)
    return client


def test_the_list_shows_name_at_version_linking_to_the_prompt(signed_in, logged):
    page = signed_in.get("/requests/").content.decode()
    assert '<a href="/prompts/triage/?version=1" data-prompt-link>triage@1</a>' in page
    assert '<a href="/prompts/triage/?version=2" data-prompt-link>triage@2</a>' in page
    # Logged by label before the label existed: still named, linking to the prompt.
    assert '<a href="/prompts/triage/" data-prompt-link>triage@staging</a>' in page
    assert "unknown version" in page  # ghost@1: no prompt of that name (yet)


def test_the_drawer_and_the_request_page_name_the_version(signed_in, logged):
    _, rows = logged
    for url in (f"/requests/{rows[1]['id']}/drawer/", f"/requests/{rows[1]['id']}/"):
        page = signed_in.get(url).content.decode()
        assert '<a class="mono" href="/prompts/triage/?version=2" data-prompt-link>triage@2</a>' in page
        assert "/requests/?promptVersionId=triage%402" in page


@pytest.mark.parametrize("value, expected", [("triage@1", 0), ("triage@2", 1), ("triage@production", 1),
                                             ("triage@latest", 1), ("triage@staging", 2)])
def test_the_filter_takes_name_at_version(signed_in, logged, value, expected):
    _, rows = logged
    data = signed_in.get(f"/api/v1/requests?promptVersionId={value}").json()
    assert [r["id"] for r in data["data"]] == [rows[expected]["id"]]
    assert data["data"][0]["prompt_version"] in (value, f"triage@{expected + 1}")
    page = signed_in.get(f"/requests/?promptVersionId={value}").content.decode()
    assert rows[expected]["id"] in page and rows[4]["id"] not in page


def test_the_filter_still_takes_a_version_id_and_refuses_junk(signed_in, logged):
    prompt, rows = logged
    version_id = str(prompt.versions.get(version=1).id)
    data = signed_in.get(f"/api/v1/requests?promptVersionId={version_id}").json()
    assert [r["id"] for r in data["data"]] == [rows[0]["id"]]
    bad = signed_in.get("/api/v1/requests?promptVersionId=nonsense")
    assert bad.status_code == 400 and "promptVersionId" in bad.json()["error"]


def test_the_calls_tab_lists_the_versions_calls_and_those_made_by_label_before_it_existed(signed_in, logged):
    _, rows = logged
    page = signed_in.get("/prompts/triage/?tab=calls").content.decode()
    assert all(rows[i]["id"] in page for i in (0, 1, 2)) and rows[3]["id"] not in page
    one = signed_in.get("/prompts/triage/?tab=calls&version=2").content.decode()
    assert rows[1]["id"] in one and rows[0]["id"] not in one and rows[2]["id"] not in one
    assert "/requests/?promptVersionId=triage%402" in one


def test_another_organizations_versions_are_not_named(client, logged, outsider, other_org_and_project):
    other_org, other_project = other_org_and_project
    prompt, rows = logged
    queries.insert_requests([make_row(other_org, other_project, prompt_version_id=str(prompt.versions.get(version=1).id))])
    client.force_login(outsider)
    page = client.get("/requests/").content.decode()
    assert "triage@1" not in page and "unknown version" in page


def test_the_query_behind_eval_scores_maps_requests_to_their_arm(logged, org, other_org_and_project):
    prompt, rows = logged
    v1, v2 = (str(prompt.versions.get(version=n).id) for n in (1, 2))
    found = queries.list_prompt_versions_of_requests(
        organization_id=str(org.id), request_ids=[r["id"] for r in rows], version_ids=[v1, v2])
    assert {r["request_id"]: r["version_id"] for r in found} == {rows[0]["id"]: v1, rows[1]["id"]: v2}
    other_org, _ = other_org_and_project
    assert queries.list_prompt_versions_of_requests(
        organization_id=str(other_org.id), request_ids=[r["id"] for r in rows], version_ids=[v1, v2]) == []


def test_eval_scores_are_averaged_per_arm(logged):
    """Real eval results over the experiment's calls give each arm its mean score."""
    from django.utils import timezone

    from evals import prompt_results
    from evals.models import EvalResult, EvalRun, Evaluator, PromptExperiment

    prompt, rows = logged
    experiment = PromptExperiment.objects.create(
        organization_id=prompt.organization_id, prompt=prompt, label="production",
        arm_a=prompt.versions.get(version=2), arm_b=prompt.versions.get(version=1), started_at=timezone.now())
    evaluator = Evaluator.objects.create(organization_id=prompt.organization_id, name="relevance",
                                         type=Evaluator.Type.EXACT_MATCH)
    scored = [(rows[0]["id"], 0.25), (rows[0]["id"], 0.75), (rows[1]["id"], 1.0), (rows[4]["id"], 0.0)]
    for n, (request_id, score) in enumerate(scored):
        run = EvalRun.objects.create(organization_id=prompt.organization_id, evaluator=evaluator,
                                     source=EvalRun.Source.PRODUCTION, sample_size=1, seed=n)
        EvalResult.objects.create(organization_id=prompt.organization_id, run=run, position=n,
                                  sample_key=request_id, request_id=request_id, score=score,
                                  status=EvalResult.Status.SCORED, completed_at=timezone.now())
    arm_a = prompt_results.Arm("A", 2, str(experiment.arm_a_id))
    arm_b = prompt_results.Arm("B", 1, str(experiment.arm_b_id))
    prompt_results._add_eval_scores(experiment, (arm_a, arm_b), 365)
    assert (arm_a.eval_score, arm_a.eval_count) == (1.0, 1)
    assert (arm_b.eval_score, arm_b.eval_count) == (0.5, 2)

"""Experiment runs end to end in one process: two prompt versions over a dataset, rendered
once and correctly, every generation logged through the organization's key, scored, compared
with paired statistics, resumed without paying twice, re-run on the same snapshot."""
from __future__ import annotations

import json

import pytest

from evals import (dataset_services, eval_runner, eval_services, experiment_results, experiment_runner,
                   experiment_services, prompt_services)
from evals.models import ExperimentResult, ExperimentRun
from spanlens.core import services
from spanlens.requestlog import engine
from tests import mock_upstream as mock

pytestmark = pytest.mark.usefixtures("live_db")

MODEL = "gpt-4o-mini+echo-prompt"
PEOPLE = [("Ann", "Lampify"), ("Bo", "Lampify"), ("Cy", "Desko"), ("Di", "Desko"), ("Ed", "Chairo"),
          ("Fay", "Chairo"), ("Gus", "Lampify"), ("Hal", "Desko"), ("Ivy", "Chairo"), ("Jo", "Lampify")]


@pytest.fixture
def key(upstream, project, settings):
    settings.EVAL_RETRY_BASE_S = 0.01
    return services.add_provider_key(project, "openai", mock.OPENAI_KEY, "OpenAI")


@pytest.fixture
def greeter(org, project, owner):
    prompt = prompt_services.create_prompt(org, project, "greeter", template="Write a greeting for {{ name }}.",
                                           actor=owner)
    v2 = prompt_services.create_version(prompt, kind="chat", actor=owner, messages=[
        {"role": "system", "content": "You are kind."},
        {"role": "user", "content": "Write a warm greeting for {{name}} that mentions {{product}}."}])
    return prompt.versions.get(version=1), v2


@pytest.fixture
def people(org):
    dataset = dataset_services.create_dataset(org, name="people")
    # The answer is right when it names the expected word: the product for most items, the
    # person for the last two (which both versions name).
    dataset_services.add_items(dataset, [
        {"input": {"variables": {"name": n, "product": p}}, "expected_output": n if i >= 8 else p}
        for i, (n, p) in enumerate(PEOPLE)])
    return dataset


@pytest.fixture
def mentions(org):
    return eval_services.create_evaluator(org, name="mentions", type="contains", config={}, pass_threshold=1)


def make(org, people, greeter, evaluators=(), model=MODEL, **kwargs):
    v1, v2 = greeter
    return experiment_services.create_experiment(
        org, name="greeting v1 vs v2", dataset=people, evaluators=[e.name for e in evaluators],
        variants=[{"prompt_version": "greeter@1", "model": model, "temperature": 0},
                  {"prompt_version": str(v2.id), "model": model, "temperature": 0}], **kwargs)


def generation_calls(upstream):
    return [r for r in upstream.requests if r.path.endswith("/chat/completions") and r.completed
            and not mock.is_judge_payload(r.json)]


def test_two_prompt_versions_run_over_a_dataset_and_get_a_paired_verdict(org, key, upstream, people, greeter,
                                                                         mentions, read_rows):
    experiment = make(org, people, greeter, [mentions])
    run = experiment_services.start_run(experiment)
    assert experiment_runner.execute(str(run.id)) == "completed"
    run.refresh_from_db()
    assert run.status == ExperimentRun.Status.COMPLETED and run.total == 20
    calls = generation_calls(upstream)
    assert len(calls) == 20
    for call in calls:
        assert "{{" not in call.body.decode() and call.json["temperature"] == 0
    chat = [c.json for c in calls if c.json["messages"][0]["role"] == "system"]
    assert len(chat) == 10  # the chat version became its messages, system first
    assert chat[0]["messages"][1]["content"].startswith("Write a warm greeting for ")

    stats = run.stats
    [evaluator] = stats["evaluators"]
    base, cand = evaluator["variants"]
    assert base["mean"] == pytest.approx(0.2) and cand["mean"] == pytest.approx(1.0)
    assert cand["pass_rate"] == 1.0 and base["ci_low"] < 0.2 < base["ci_high"]
    [comparison] = evaluator["comparisons"]
    assert comparison["significant"] and comparison["mean_difference"] == pytest.approx(0.8)
    assert comparison["mcnemar"]["candidate_only"] == 8 and comparison["mcnemar"]["p_value"] < 0.01
    assert comparison["verdict"].startswith("better than the baseline by 0.800")
    low, high = comparison["bootstrap"]["low"], comparison["bootstrap"]["high"]
    assert low <= 0.8 <= high
    assert stats["variants"][0]["latency_p50"] is not None

    rows = read_rows(org.id, expect=20)
    origins = engine.get_engine().select("SELECT DISTINCT origin FROM requests WHERE organization_id = {o:UUID}",
                                         {"o": str(org.id)})
    assert origins == [{"origin": "experiment"}]
    assert {r["session_id"] for r in rows} == {f"experiment-{run.id}"}
    assert {r["prompt_version_id"] for r in rows} == {str(v.id) for v in greeter}
    cost = sum(r.cost_usd for r in run.results.all())
    assert cost > 0 and float(run.cost_usd) == pytest.approx(float(cost))
    assert stats["cost_usd"] == pytest.approx(sum(float(r["cost_usd"]) for r in rows))


def test_generations_are_left_out_of_production_eval_samples(org, key, upstream, people, greeter, read_rows):
    from spanlens.requestlog import queries

    run = experiment_services.start_run(make(org, people, greeter))
    experiment_runner.execute(str(run.id))
    read_rows(org.id, expect=20)
    assert queries.list_eval_sample_ids(organization_id=str(org.id), retention_days=30, seed=1, limit=100) == []


def test_a_stopped_run_resumes_without_paying_for_any_generation_twice(org, key, upstream, people, greeter,
                                                                       settings, monkeypatch):
    settings.EVAL_CONCURRENCY = 1
    original = experiment_runner.Generator.generate
    made = []

    def generate_then_stop(self, result):
        original(self, result)
        made.append(result.id)
        if len(made) == 7:
            eval_runner.stopping.set()  # the worker is asked to shut down mid-run

    monkeypatch.setattr(experiment_runner.Generator, "generate", generate_then_stop)
    run = experiment_services.start_run(make(org, people, greeter))
    try:
        assert experiment_runner.execute(str(run.id)) == "stopped"
    finally:
        eval_runner.stopping.clear()
    run.refresh_from_db()
    assert run.status == ExperimentRun.Status.INTERRUPTED
    assert run.results.filter(status=ExperimentResult.Status.DONE).count() == 7
    assert experiment_runner.execute(str(run.id)) == "completed"
    assert len(generation_calls(upstream)) == 20  # 7 + 13: nothing paid twice
    assert experiment_runner.execute(str(run.id)) == "not claimed"


def test_a_killed_worker_is_taken_over_once_its_heartbeat_is_stale(org, key, upstream, people, greeter):
    run = experiment_services.start_run(make(org, people, greeter))
    claimed = experiment_runner.claim(str(run.id))
    assert claimed is not None and experiment_runner.execute(str(run.id)) == "not claimed"
    assert experiment_services.resume_stale_runs(stale_after_s=0) == [str(run.id)]
    assert experiment_runner.execute(str(run.id)) == "completed"


def test_rate_limits_are_retried_honouring_retry_after(org, key, upstream, people, greeter):
    run = experiment_services.start_run(make(org, people, greeter, model="gpt-4o-mini+echo-prompt+429-once"))
    assert experiment_runner.execute(str(run.id)) == "completed"
    assert run.results.filter(status=ExperimentResult.Status.DONE).count() == 20
    assert {r.attempts for r in run.results.all()} == {2}


def test_repetitions_run_each_variant_several_times(org, key, upstream, people, greeter, mentions):
    run = experiment_services.start_run(make(org, people, greeter, [mentions], repetitions=3))
    experiment_runner.execute(str(run.id))
    run.refresh_from_db()
    assert run.total == 60 and len(generation_calls(upstream)) == 60
    assert {r.repetition for r in run.results.all()} == {1, 2, 3}
    assert run.stats["evaluators"][0]["variants"][1]["n"] == 10


def test_an_item_missing_a_variable_is_an_error_without_a_call(org, key, upstream, greeter):
    dataset = dataset_services.create_dataset(org, name="partial")
    dataset_services.add_items(dataset, [{"input": {"variables": {"name": "Ann"}}}])
    experiment = make(org, dataset, greeter)
    run = experiment_services.start_run(experiment)
    experiment_runner.execute(str(run.id))
    errors = {r.variant.position: r.error for r in run.results.select_related("variant")}
    assert errors[0] == "" and "product" in errors[1]
    assert len(generation_calls(upstream)) == 1


def test_a_rerun_uses_the_same_snapshot_and_charts_across_runs(org, key, upstream, people, greeter, mentions):
    experiment = make(org, people, greeter, [mentions])
    first = experiment_services.start_run(experiment)
    experiment_runner.execute(str(first.id))
    dataset_services.add_items(people, [{"input": {"variables": {"name": "Kim", "product": "X"}}}])
    second = experiment_services.start_run(experiment)
    experiment_runner.execute(str(second.id))
    second.refresh_from_db()
    assert second.number == 2 and second.total == 20  # the new dataset item is not in the snapshot
    points = experiment_results.history(experiment)
    assert [p["number"] for p in points] == [1, 2]
    assert points[1]["means"] == {0: pytest.approx(0.2), 1: pytest.approx(1.0)}


def test_the_side_by_side_table_has_a_cell_per_variant(org, key, upstream, people, greeter, mentions):
    run = experiment_services.start_run(make(org, people, greeter, [mentions]))
    experiment_runner.execute(str(run.id))
    rows = experiment_results.table(run)
    assert len(rows) == 10 and all(len(r["cells"]) == 2 for r in rows)
    first = rows[0]["cells"][1]["results"][0]
    assert first.output == "Answer: Write a warm greeting for Ann that mentions Lampify."
    assert [s.score for s in first.scores.all()] == [1.0]


@pytest.mark.parametrize("variants,field", [
    ([{"model": "gpt-4o-mini"}], "variants"),
    ([{"model": "a"}, {}], "variants[1]"),
    ([{"model": "a"}, {"model": "b", "temperature": 5}], "variants[1].temperature"),
    ([{"model": "a"}, {"prompt_version": "nope@1"}], "variants[1].prompt_version"),
    ([{"model": "a", "provider": "acme"}, {"model": "b"}], "variants[0].provider"),
])
def test_bad_variants_are_refused_naming_the_field(org, people, variants, field):
    with pytest.raises(experiment_services.ExperimentError) as exc:
        experiment_services.create_experiment(org, name="x", dataset=people, variants=variants)
    assert exc.value.field == field


def test_repetitions_are_one_to_five(org, people):
    with pytest.raises(experiment_services.ExperimentError) as exc:
        experiment_services.create_experiment(org, name="x", dataset=people, repetitions=6,
                                              variants=[{"model": "a"}, {"model": "b"}])
    assert exc.value.field == "repetitions"


def test_it_keeps_other_organizations_datasets_prompts_and_evaluators_out(org, other_org_and_project, people):
    other_org, other_project = other_org_and_project
    theirs = dataset_services.create_dataset(other_org, name="theirs")
    dataset_services.add_items(theirs, [{"input": "hi"}])
    prompt_services.create_prompt(other_org, other_project, "secret", template="x {{a}}")
    eval_services.create_evaluator(other_org, name="their-eval", type="contains", config={})
    two = [{"model": "a"}, {"model": "b"}]
    with pytest.raises(eval_services.EvalError):
        experiment_services.create_experiment(org, name="x", dataset=str(theirs.id), variants=two)
    with pytest.raises(experiment_services.ExperimentError) as exc:
        experiment_services.create_experiment(org, name="x", dataset=people,
                                              variants=[{"model": "a"}, {"prompt_version": "secret@1"}])
    assert exc.value.field == "variants[1].prompt_version"
    with pytest.raises(experiment_services.ExperimentError) as exc:
        experiment_services.create_experiment(org, name="x", dataset=people, variants=two, evaluators=["their-eval"])
    assert exc.value.field == "evaluators[0]"

"""Eval runs end to end in one process: dataset and production sources, deterministic and
judge evaluators, results written per sample, the verdict cache, retrying failures."""
from __future__ import annotations

from decimal import Decimal

import pytest

from evals import dataset_services, eval_runner, eval_services
from evals.models import EvalResult, EvalRun, JudgeVerdict
from spanlens.core import services
from tests import mock_upstream as mock
from tests.seed import make_row

# Judge calls run in threads with their own database connections: the data must be committed.
pytestmark = pytest.mark.usefixtures("live_db")

QUESTIONS = [
    ("Why is the sky blue during the daytime?", "During the daytime the sky is blue because air scatters light."),
    ("What is the capital of France?", "Bananas are yellow."),
    ("How many legs does a spider have?", "A spider has eight legs."),
]


@pytest.fixture
def judge_key(upstream, project, settings):
    settings.EVAL_RETRY_BASE_S = 0.01
    return services.add_provider_key(project, "openai", mock.OPENAI_KEY, "OpenAI")


def judge_evaluator(org, model="gpt-4o-mini", name="relevance", threshold=0.5):
    return eval_services.create_evaluator(
        org, name=name, type="llm_judge", pass_threshold=threshold,
        config={"criterion": "The answer addresses the question.", "judge_provider": "openai",
                "judge_model": model, "scale_min": 1, "scale_max": 5})


def qa_dataset(org, name="qa"):
    dataset = dataset_services.create_dataset(org, name=name)
    dataset_services.add_items(dataset, [{"input": q, "output": a} for q, a in QUESTIONS])
    return dataset


def start(org, evaluator, **data):
    req = eval_services.parse_run_request(org, data)
    return eval_services.start_eval_run(org, evaluator, req)


def test_a_judge_run_over_a_dataset_scores_every_item(org, judge_key, upstream):
    run = start(org, judge_evaluator(org), source="dataset", dataset=qa_dataset(org).name)
    assert run.estimate_usd > 0
    assert eval_runner.execute(str(run.id)) == "completed"
    run.refresh_from_db()
    assert run.status == EvalRun.Status.COMPLETED and run.total == 3
    scores = [r.score for r in run.results.order_by("position")]
    assert scores == [1.0, 0.0, 0.5]  # the spider answer repeats half the question's key words
    assert run.avg_score == pytest.approx(0.5)
    assert run.stats["passed"] == 2 and run.stats["histogram"] == [1, 0, 0, 0, 0, 1, 0, 0, 0, 1]
    assert run.judge_tokens == 3 * (mock.PROMPT_TOKENS + mock.COMPLETION_TOKENS)
    assert run.judge_cost_usd == sum(r.judge_cost_usd for r in run.results.all()) > 0
    lowest = eval_services.lowest(run)
    assert lowest[0].output == "Bananas are yellow." and "does not address" in lowest[0].reasoning
    assert len(upstream.judge_calls()) == 3


def test_a_second_run_over_the_same_samples_is_cached_and_free(org, judge_key, upstream):
    evaluator, dataset = judge_evaluator(org), qa_dataset(org)
    first = start(org, evaluator, source="dataset", dataset=str(dataset.id))
    eval_runner.execute(str(first.id))
    second = start(org, evaluator, source="dataset", dataset=str(dataset.id))
    eval_runner.execute(str(second.id))
    second.refresh_from_db()
    assert len(upstream.judge_calls()) == 3  # nothing paid twice
    assert all(r.cached and r.judge_cost_usd == 0 for r in second.results.all())
    assert second.judge_cost_usd == Decimal(0) and second.stats["cached"] == 3
    assert second.avg_score == pytest.approx(0.5)
    assert JudgeVerdict.objects.filter(organization=org).count() == 3


def test_running_a_finished_run_again_changes_nothing(org, judge_key, upstream):
    run = start(org, judge_evaluator(org), source="dataset", dataset="qa" if qa_dataset(org) else "")
    eval_runner.execute(str(run.id))
    assert eval_runner.execute(str(run.id)) == "not claimed"
    assert run.results.count() == 3 and len(upstream.judge_calls()) == 3


def test_unreadable_verdicts_are_parse_errors_and_retry_reruns_only_failures(org, judge_key, upstream):
    evaluator = judge_evaluator(org, model="gpt-4o-mini+judge-malformed")
    run = start(org, evaluator, source="dataset", dataset=qa_dataset(org).name)
    eval_runner.execute(str(run.id))
    run.refresh_from_db()
    assert run.status == EvalRun.Status.FAILED and "every sample failed" in run.error
    assert set(run.results.values_list("status", flat=True)) == {EvalResult.Status.PARSE_ERROR}
    assert run.results.filter(score__isnull=False).count() == 0  # never a 0
    assert run.avg_score is None
    # The judge is fixed (the evaluator now points at a model that answers): only failures rerun.
    run.evaluator_snapshot["config"]["judge_model"] = "gpt-4o-mini"
    run.save()
    upstream.clear()
    assert eval_services.retry_failed(run) == 3
    eval_runner.execute(str(run.id))
    run.refresh_from_db()
    assert run.status == EvalRun.Status.COMPLETED and run.results.filter(status="scored").count() == 3
    assert len(upstream.judge_calls()) == 3


def test_a_snapshot_keeps_old_results_when_the_dataset_changes(org, judge_key, upstream):
    dataset = qa_dataset(org)
    run = start(org, judge_evaluator(org), source="dataset", dataset=dataset.name)
    eval_runner.execute(str(run.id))
    item = dataset.items.order_by("created_at").first()
    dataset_services.update_item(item, {"input": "Something else entirely", "metadata": {"output": "changed"}})
    first = run.results.get(position=0)
    assert "sky" in first.input["messages"][0]["content"] and first.output.startswith("During")


def test_deterministic_evaluators_cost_nothing_and_need_no_key(org):
    evaluator = eval_services.create_evaluator(org, name="exact", type="exact_match", config={})
    dataset = dataset_services.create_dataset(org, name="math")
    dataset_services.add_items(dataset, [{"input": "2+2", "expected_output": "4", "output": " 4 "},
                                         {"input": "3+3", "expected_output": "6", "output": "five"},
                                         {"input": "no output", "expected_output": "x"}])
    run = start(org, evaluator, source="dataset", dataset=dataset.name)
    assert run.estimate_usd == 0
    eval_runner.execute(str(run.id))
    run.refresh_from_db()
    results = list(run.results.order_by("position"))
    assert [r.score for r in results] == [1.0, 0.0, None]
    assert results[2].status == "error" and "no output to score" in results[2].error
    assert run.judge_cost_usd == 0 and run.status == "completed"


def test_a_production_run_samples_with_a_seed_and_leaves_out_judge_calls(org, project, judge_key, upstream,
                                                                         read_rows):
    from spanlens.requestlog import queries

    rows = [make_row(org, project, provider="openai", model="gpt-4o-mini", status_code=200, user_id="u1")
            for _ in range(12)]
    rows += [make_row(org, project, provider="openai", model="gpt-4o-mini", status_code=500) for _ in range(3)]
    queries.insert_requests(rows)
    evaluator = judge_evaluator(org)
    run = start(org, evaluator, source="production", sample_size=5, seed=42, user_id="u1")
    eval_runner.execute(str(run.id))
    run.refresh_from_db()
    sampled = set(run.results.values_list("request_id", flat=True))
    assert len(sampled) == 5 and {str(s) for s in sampled} <= {r["id"] for r in rows[:12]}
    # The same seed draws the same sample; the judge calls it logged are never sampled.
    # A sample whose (input, output) equals another's comes from the judge cache: no call.
    judged = run.results.filter(cached=False).count()
    logged = read_rows(org.id, expect=15 + judged, timeout=30)
    assert len(logged) == 15 + judged
    again = start(org, evaluator, source="production", sample_size=50, seed=42)
    eval_runner.execute(str(again.id))
    assert again.results.count() == 12
    assert {str(s) for s in again.results.values_list("request_id", flat=True)} == {r["id"] for r in rows[:12]}
    third = start(org, evaluator, source="production", sample_size=5, seed=42, user_id="u1")
    eval_runner.execute(str(third.id))
    assert set(third.results.values_list("request_id", flat=True)) == sampled


def test_bad_run_requests_name_the_field(org, judge_key):
    evaluator = judge_evaluator(org)
    for data, field in [({"source": "nope"}, "source"), ({"source": "dataset"}, "dataset"),
                        ({"source": "production", "sample_size": 0}, "sample_size"),
                        ({"source": "production", "sample_size": 1001}, "sample_size"),
                        ({"source": "production", "seed": "x"}, "seed"),
                        ({"source": "production", "since": "yesterday"}, "since"),
                        ({"source": "production", "project_id": "not-a-uuid"}, "project_id")]:
        with pytest.raises(eval_services.EvalError) as err:
            eval_services.parse_run_request(org, data)
        assert err.value.field == field
    with pytest.raises(eval_services.EvalError) as err:
        start(org, evaluator, source="production")
    assert err.value.field == "filters"  # nothing logged yet to sample


def test_a_judge_run_without_a_provider_key_is_refused(org):
    evaluator = judge_evaluator(org)
    with pytest.raises(eval_services.EvalError) as err:
        start(org, evaluator, source="dataset", dataset=qa_dataset(org).name)
    assert err.value.field == "evaluator" and "provider key" in err.value.message


def test_stale_runs_are_marked_interrupted_and_resumed(org, judge_key, upstream, django_capture_on_commit_callbacks):
    from datetime import timedelta

    from django.utils import timezone

    run = start(org, judge_evaluator(org), source="dataset", dataset=qa_dataset(org).name)
    EvalRun.objects.filter(id=run.id).update(status="running", heartbeat_at=timezone.now() - timedelta(minutes=6),
                                             lease_token="dead-worker")
    fresh = start(org, judge_evaluator(org, name="other"), source="dataset", dataset="qa")
    EvalRun.objects.filter(id=fresh.id).update(status="running", heartbeat_at=timezone.now(), lease_token="alive")
    sent = []
    original = eval_services.enqueue
    eval_services.enqueue = lambda run_id: sent.append(str(run_id))
    try:
        assert eval_services.resume_stale_runs() == [str(run.id)]
    finally:
        eval_services.enqueue = original
    assert sent == [str(run.id)]
    run.refresh_from_db()
    assert run.status == "interrupted" and run.resumes == 1
    assert eval_runner.execute(str(fresh.id)) == "not claimed"  # a live worker keeps its run
    assert eval_runner.execute(str(run.id)) == "completed"


def test_a_stopping_process_hands_its_run_back_and_the_next_worker_finishes_it(org, judge_key, upstream,
                                                                                settings):
    import threading

    settings.EVAL_CONCURRENCY = 1
    upstream.judge_delay_s = 0.3
    dataset = dataset_services.create_dataset(org, name="six")
    dataset_services.add_items(dataset, [{"input": f"Why is the sky blue, {i}?", "output": f"Sky {i} is blue."}
                                         for i in range(6)])
    run = start(org, judge_evaluator(org), source="dataset", dataset="six")
    requeued = []
    original = eval_services.enqueue
    eval_services.enqueue = lambda run_id: requeued.append(str(run_id))
    outcome = []
    try:
        worker = threading.Thread(target=lambda: outcome.append(eval_runner.execute(str(run.id))))
        worker.start()
        deadline = __import__("time").monotonic() + 10
        while run.results.filter(status="scored").count() < 2:
            assert __import__("time").monotonic() < deadline
        eval_runner.stopping.set()
        worker.join(timeout=5)
        assert not worker.is_alive() and outcome == ["stopped"]
    finally:
        eval_runner.stopping.clear()
        eval_services.enqueue = original
    run.refresh_from_db()
    assert run.status == EvalRun.Status.INTERRUPTED and requeued == [str(run.id)]
    done = run.results.exclude(status="pending").count()
    assert 2 <= done < 6
    assert eval_runner.execute(str(run.id)) == "completed"
    assert run.results.filter(status="scored").count() == 6 and len(upstream.judge_calls()) == 6


def test_judge_calls_in_flight_never_exceed_the_concurrency_setting(org, judge_key, upstream, settings):
    settings.EVAL_CONCURRENCY = 2
    upstream.judge_delay_s = 0.2
    dataset = dataset_services.create_dataset(org, name="eight")
    dataset_services.add_items(dataset, [{"input": f"Question {i}?", "output": f"Answer {i}."} for i in range(8)])
    run = start(org, judge_evaluator(org), source="dataset", dataset="eight")
    eval_runner.execute(str(run.id))
    calls = upstream.judge_calls()
    assert len(calls) == 8
    edges = sorted([(c.received_at, 1) for c in calls] + [(c.finished_at, -1) for c in calls])
    in_flight, most = 0, 0
    for _, step in edges:
        in_flight += step
        most = max(most, in_flight)
    assert most == 2


def test_a_large_production_sample_is_drawn_in_batches_and_scored_for_free(org, project):
    from spanlens.requestlog import queries

    rows = [make_row(org, project, provider="openai", model="gpt-4o-mini", status_code=200) for _ in range(260)]
    queries.insert_requests(rows)
    evaluator = eval_services.create_evaluator(org, name="polite", type="contains", config={"value": "here is"})
    run = start(org, evaluator, source="production", sample_size=250, seed=7)
    assert eval_runner.execute(str(run.id)) == "completed"
    run.refresh_from_db()
    assert run.total == 250 and run.avg_score == 1.0 and run.judge_cost_usd == 0
    assert sorted(run.results.values_list("position", flat=True)) == list(range(250))


def test_a_run_still_waiting_in_the_queue_is_not_queued_again_every_minute(org, judge_key):
    from datetime import timedelta

    from django.utils import timezone

    run = start(org, judge_evaluator(org), source="dataset", dataset=qa_dataset(org).name)
    EvalRun.objects.filter(id=run.id).update(created_at=timezone.now() - timedelta(minutes=6))
    sent = []
    original = eval_services.enqueue
    eval_services.enqueue = lambda run_id: sent.append(str(run_id))
    try:
        assert eval_services.resume_stale_runs() == [str(run.id)]
        assert eval_services.resume_stale_runs() == []
    finally:
        eval_services.enqueue = original
    assert sent == [str(run.id)]

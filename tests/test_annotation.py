"""Human annotation: score configs, queues from an experiment run and from production
requests, locking with two reviewers at once, k reviewers per item, and the judge-human
agreement checked against scipy and scikit-learn."""
from __future__ import annotations

import random
import threading

import pytest
from scipy import stats as scipy_stats
from sklearn.metrics import cohen_kappa_score

from evals import agreement_stats, annotation_services as ann
from evals.models import AnnotationItem, AnnotationQueue, ExperimentResult, ExperimentScore
from tests.seed import make_row, request_body, response_body

X = [0.1, 0.4, 0.35, 0.8, 0.9, 0.2, 0.55, 0.55, 0.7, 0.05, 0.3, 0.95]
Y = [0.2, 0.3, 0.5, 0.7, 1.0, 0.1, 0.4, 0.6, 0.6, 0.2, 0.2, 0.8]


def test_pearson_and_spearman_match_scipy():
    assert agreement_stats.pearson(X, Y) == pytest.approx(scipy_stats.pearsonr(X, Y).statistic, abs=1e-6)
    assert agreement_stats.spearman(X, Y) == pytest.approx(scipy_stats.spearmanr(X, Y).statistic, abs=1e-6)
    rng = random.Random(4)
    a = [rng.choice([1, 2, 3, 4, 5]) for _ in range(40)]
    b = [min(5, max(1, v + rng.choice([-1, 0, 0, 1]))) for v in a]
    assert agreement_stats.spearman(a, b) == pytest.approx(scipy_stats.spearmanr(a, b).statistic, abs=1e-6)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_cohens_kappa_matches_scikit_learn(seed):
    rng = random.Random(seed)
    labels = ["bad", "ok", "good"]
    a = [rng.choice(labels) for _ in range(50)]
    b = [x if rng.random() < 0.7 else rng.choice(labels) for x in a]
    assert agreement_stats.cohen_kappa(a, b) == pytest.approx(cohen_kappa_score(a, b), abs=1e-6)


def test_undefined_agreement_is_none_not_a_number():
    assert agreement_stats.pearson([1, 1, 1], [0.2, 0.5, 0.9]) is None
    assert agreement_stats.cohen_kappa(["yes"] * 3, ["yes"] * 3) is None


@pytest.mark.parametrize("kwargs,field", [
    ({"name": "", "kind": "boolean"}, "name"),
    ({"name": "x", "kind": "stars"}, "kind"),
    ({"name": "x", "kind": "numeric", "min_value": 5, "max_value": 1}, "max_value"),
    ({"name": "x", "kind": "categorical", "categories": ["only"]}, "categories"),
])
def test_bad_score_configs_name_the_field(org, kwargs, field):
    with pytest.raises(ann.AnnotationError) as exc:
        ann.create_score_config(org, **kwargs)
    assert exc.value.field == field


@pytest.fixture
def judged_run(org):
    """An experiment run of six results, each scored by a judge evaluator."""
    from evals import dataset_services, eval_services, experiment_runner, experiment_services

    judge = eval_services.create_evaluator(org, name="quality", type="contains", config={"value": "x"})
    dataset = dataset_services.create_dataset(org, name="d")
    dataset_services.add_items(dataset, [{"input": f"q{i}"} for i in range(3)])
    experiment = experiment_services.create_experiment(org, name="e", dataset=dataset,
                                                       variants=[{"model": "a"}, {"model": "b"}])
    run = experiment_services.start_run(experiment)
    experiment_runner.prepare(run)
    for i, result in enumerate(run.results.order_by("id")):
        ExperimentResult.objects.filter(id=result.id).update(status="done", output=f"answer {i}")
        ExperimentScore.objects.create(organization=org, result=result, evaluator_id=judge.id, status="scored",
                                       score=[1.0, 0.75, 0.0, 0.25, 1.0, 0.5][i], passed=i in (0, 1, 4))
    return run, judge


def test_a_queue_from_an_experiment_run_compares_the_judge_with_people(org, owner, member, judged_run):
    run, judge = judged_run
    config = ann.create_score_config(org, name="good?", kind="boolean")
    queue = ann.create_queue(org, name="review", score_config=config, source="experiment", experiment_run=run.id,
                             evaluator=judge.name)
    assert queue.items.count() == 6 and {i.judge_score for i in queue.items.all()} == {1.0, 0.75, 0.0, 0.25, 0.5}
    human = ["yes", "yes", "no", "yes", "yes", "no"]
    for value in human:
        item = ann.claim_next(queue, owner)
        ann.annotate(item, owner, value)
    assert ann.claim_next(queue, owner) is None
    progress = ann.progress(queue, owner)
    assert progress["done"] == 6 and progress["percent"] == 100 and progress["mine"] == 6
    result = ann.agreement(queue)
    judge_labels = ["yes", "yes", "no", "no", "yes", "no"]
    assert result["n"] == 6 and not result["calibrated"]
    assert result["kappa"] == pytest.approx(cohen_kappa_score(human, judge_labels), abs=1e-6)
    assert result["base_rate"] == pytest.approx(4 / 6)


def test_numeric_agreement_normalises_the_human_scale(org, owner, judged_run):
    run, judge = judged_run
    config = ann.create_score_config(org, name="stars", kind="numeric", min_value=1, max_value=5)
    queue = ann.create_queue(org, name="stars", score_config=config, source="experiment", experiment_run=run,
                             evaluator=judge)
    stars = [5, 4, 1, 3, 4, 2]
    for value in stars:
        ann.annotate(ann.claim_next(queue, owner), owner, value)
    result = ann.agreement(queue)
    humans = [(s - 1) / 4 for s in stars]
    judges = [1.0, 0.75, 0.0, 0.25, 1.0, 0.5]
    assert result["pearson"] == pytest.approx(scipy_stats.pearsonr(humans, judges).statistic, abs=1e-6)
    assert result["spearman"] == pytest.approx(scipy_stats.spearmanr(humans, judges).statistic, abs=1e-6)
    with pytest.raises(ann.AnnotationError) as exc:
        ann.clean_value(config, 6)
    assert exc.value.field == "value"


def test_categorical_labels_must_be_known(org):
    config = ann.create_score_config(org, name="tone", kind="categorical", categories="rude, neutral, kind")
    assert ann.clean_value(config, "kind") == (2.0, "kind")
    with pytest.raises(ann.AnnotationError):
        ann.clean_value(config, "sarcastic")


@pytest.mark.django_db(transaction=True)
def test_two_reviewers_in_parallel_never_get_the_same_item(org, owner, member, judged_run):
    from django.db import connections

    run, judge = judged_run
    config = ann.create_score_config(org, name="ok", kind="boolean")
    queue = ann.create_queue(org, name="parallel", score_config=config, source="experiment", experiment_run=run)
    claimed: dict[str, list[int]] = {"owner": [], "member": []}
    barrier = threading.Barrier(2)

    def review(user, key):
        try:
            barrier.wait()
            for _ in range(3):
                item = ann.claim_next(queue, user)
                claimed[key].append(item.id)
                ann.annotate(item, user, "yes")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=review, args=(owner, "owner")),
               threading.Thread(target=review, args=(member, "member"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(claimed["owner"]) == len(claimed["member"]) == 3
    assert set(claimed["owner"]).isdisjoint(claimed["member"])
    assert ann.progress(queue)["done"] == 6


def test_a_locked_item_cannot_be_scored_by_someone_else_and_k_reviewers_each_score_once(org, owner, member,
                                                                                      judged_run):
    run, _ = judged_run
    config = ann.create_score_config(org, name="ok", kind="boolean")
    queue = ann.create_queue(org, name="k2", score_config=config, source="experiment", experiment_run=run,
                             reviewers_per_item=2)
    first = ann.claim_next(queue, owner)
    assert ann.claim_next(queue, owner).id == first.id  # the held item comes back
    other = ann.claim_next(queue, member)
    assert other.id != first.id
    with pytest.raises(ann.AnnotationError) as exc:
        ann.annotate(first, member, "no")
    assert "another reviewer" in exc.value.message
    ann.annotate(first, owner, "yes")
    ann.release(other, member)
    assert ann.claim_next(queue, member).id == first.id  # needs a second review, and member has not given one
    ann.annotate(first, member, "no")
    with pytest.raises(ann.AnnotationError):
        ann.annotate(AnnotationItem.objects.get(id=first.id), owner, "yes")
    assert AnnotationItem.objects.get(id=first.id).annotations_count == 2


@pytest.mark.usefixtures("live_db")
def test_a_queue_from_production_requests_takes_the_judges_verdicts(org, project, owner):
    from evals import eval_services
    from evals.models import EvalResult, EvalRun
    from spanlens.requestlog import queries

    rows = [make_row(org, project, provider="openai", model="gpt-4o", status_code=200,
                     request_body=request_body("openai", "gpt-4o", f"question {i}"),
                     response_body=response_body("openai", "gpt-4o", f"answer {i}")) for i in range(4)]
    queries.insert_requests(rows)
    judge = eval_services.create_evaluator(org, name="j", type="contains", config={"value": "answer"})
    run = EvalRun.objects.create(organization=org, evaluator=judge, source="production", sample_size=4, seed=1)
    EvalResult.objects.create(organization=org, run=run, position=0, sample_key=rows[0]["id"],
                              request_id=rows[0]["id"], status="scored", score=0.8)
    config = ann.create_score_config(org, name="ok", kind="boolean")
    queue = ann.create_queue(org, name="prod", score_config=config, source="requests",
                             filters={"provider": "openai"}, evaluator=judge)
    assert queue.items.count() == 4
    judged = queue.items.get(request_id=rows[0]["id"])
    assert judged.judge_score == 0.8 and judged.output == "answer 0"
    assert judged.input["messages"][-1]["content"] == "question 0"


def test_another_organizations_objects_are_not_found(org, other_org_and_project, judged_run):
    run, judge = judged_run
    other_org, _ = other_org_and_project
    theirs = ann.create_score_config(other_org, name="theirs", kind="boolean")
    mine = ann.create_score_config(org, name="mine", kind="boolean")
    with pytest.raises(ann.AnnotationError) as exc:
        ann.create_queue(org, name="q", score_config=theirs.id, source="experiment", experiment_run=run)
    assert exc.value.field == "score_config"
    with pytest.raises(ann.AnnotationError) as exc:
        ann.create_queue(other_org, name="q", score_config=theirs, source="experiment", experiment_run=run.id)
    assert exc.value.field == "experiment_run"
    with pytest.raises(ann.AnnotationError) as exc:
        ann.create_queue(other_org, name="q", score_config=theirs, source="requests", evaluator=judge.id)
    assert exc.value.field == "evaluator"
    assert AnnotationQueue.objects.count() == 0 and mine

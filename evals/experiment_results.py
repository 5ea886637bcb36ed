"""Reading an experiment run: progress, the side-by-side table per item, the summary per
variant and the paired comparison of each variant with the baseline, per evaluator."""
from __future__ import annotations

from collections import defaultdict

from django.db.models import Count

from evals import eval_stats, paired_stats
from evals.models import ExperimentResult, ExperimentRun, ExperimentScore


def progress(run: ExperimentRun) -> dict:
    counts = dict(run.results.values_list("status").annotate(n=Count("id")))
    total = run.total or sum(counts.values())
    pending = counts.get(ExperimentResult.Status.PENDING, 0)
    return {"total": total, "done": total - pending, "generated": counts.get(ExperimentResult.Status.DONE, 0),
            "failed": counts.get(ExperimentResult.Status.ERROR, 0),
            "percent": int(100 * (total - pending) / total) if total else 0}


def _per_item(values: dict) -> dict:
    """{item: [values over repetitions]} -> {item: mean}."""
    return {item: sum(v) / len(v) for item, v in values.items() if v}


def summarize(run: ExperimentRun) -> dict:
    experiment = run.experiment
    variants = list(experiment.variants.order_by("position"))
    baseline = experiment.baseline_position
    results = list(run.results.values("id", "item_id", "variant_id", "status", "latency_ms", "cost_usd",
                                      "prompt_tokens", "completion_tokens"))
    by_variant = defaultdict(list)
    for r in results:
        by_variant[r["variant_id"]].append(r)
    items = experiment.items.count()
    summary = progress(run)
    summary["cost_usd"] = float(sum((r["cost_usd"] or 0) for r in results
                                    if not _recorded(variants, r["variant_id"])))
    out_variants = []
    for v in variants:
        rows = by_variant.get(v.id, [])
        done = [r for r in rows if r["status"] == ExperimentResult.Status.DONE]
        latencies = [r["latency_ms"] for r in done if r["latency_ms"] is not None]
        cost = sum(float(r["cost_usd"] or 0) for r in done)
        priced = any(r["cost_usd"] is not None for r in done)
        out_variants.append({
            "position": v.position, "name": v.name, "baseline": v.position == baseline, "recorded": v.recorded,
            "results": len(rows), "generated": len(done),
            "errors": sum(1 for r in rows if r["status"] == ExperimentResult.Status.ERROR),
            "cost_usd": cost if priced else None,
            "cost_per_item": cost / items if priced and items else None,
            "latency_p50": paired_stats.percentile(latencies, 50),
            "latency_p95": paired_stats.percentile(latencies, 95),
            "tokens": sum(r["prompt_tokens"] + r["completion_tokens"] for r in done),
        })
    summary["variants"] = out_variants
    summary["evaluators"] = [_evaluator_summary(run, snapshot, variants, baseline)
                             for snapshot in run.evaluator_snapshots or []]
    from evals import experiment_replay

    summary["replay"] = experiment_replay.cost_comparison(summary, experiment)
    return summary


def _recorded(variants, variant_id) -> bool:
    return any(v.id == variant_id and v.recorded for v in variants)


def _evaluator_summary(run: ExperimentRun, snapshot: dict, variants, baseline: int) -> dict:
    scores = defaultdict(lambda: defaultdict(list))  # variant -> item -> [score]
    passes = defaultdict(lambda: defaultdict(list))
    failed = defaultdict(int)
    for s in ExperimentScore.objects.filter(result__run=run, evaluator_id=snapshot["id"]).values(
            "status", "score", "passed", "result__item_id", "result__variant_id"):
        v, item = s["result__variant_id"], s["result__item_id"]
        if s["status"] != "scored":
            failed[v] += 1
            continue
        scores[v][item].append(float(s["score"]))
        if s["passed"] is not None:
            passes[v][item].append(1.0 if s["passed"] else 0.0)
    per_variant, means = [], {}
    for v in variants:
        item_scores = _per_item(scores[v.id])
        means[v.position] = (item_scores, _per_item(passes[v.id]))
        all_scores = [x for values in scores[v.id].values() for x in values]
        all_passes = [x for values in passes[v.id].values() for x in values]
        ci = eval_stats.mean_ci(list(item_scores.values()))
        per_variant.append({
            "position": v.position, "name": v.name, "n": len(item_scores), "scored": len(all_scores),
            "failed": failed[v.id],
            "mean": eval_stats.mean(list(item_scores.values())),
            # Scores live on 0..1: an interval from a handful of items is kept inside it.
            "ci_low": max(0.0, ci[0]) if ci else None, "ci_high": min(1.0, ci[1]) if ci else None,
            "pass_rate": sum(all_passes) / len(all_passes) if all_passes else None,
        })
    comparisons = []
    base_scores, base_passes = means.get(baseline, ({}, {}))
    for v in variants:
        if v.position == baseline:
            continue
        cand_scores, cand_passes = means[v.position]
        shared = sorted(set(base_scores) & set(cand_scores))
        a = [base_scores[i] for i in shared]
        b = [cand_scores[i] for i in shared]
        both = [i for i in shared if i in base_passes and i in cand_passes]
        result = paired_stats.compare(
            a, b, [base_passes[i] >= 0.5 for i in both] if both else None,
            [cand_passes[i] >= 0.5 for i in both] if both else None, seed=run.seed)
        result.update(position=v.position, name=v.name)
        comparisons.append(result)
    return {"id": snapshot["id"], "name": snapshot["name"], "type": snapshot["type"],
            "pass_threshold": snapshot.get("pass_threshold"), "variants": per_variant, "comparisons": comparisons}


def table(run: ExperimentRun, *, limit: int = 200, offset: int = 0) -> list[dict]:
    """Side by side: one row per item, one cell per variant (repetitions listed in the cell)."""
    experiment = run.experiment
    items = list(experiment.items.order_by("position")[offset:offset + limit])
    results = (run.results.filter(item__in=items).select_related("variant")
               .prefetch_related("scores").order_by("variant__position", "repetition"))
    cells = defaultdict(lambda: defaultdict(list))
    for r in results:
        cells[r.item_id][r.variant.position].append(r)
    variants = list(experiment.variants.order_by("position"))
    rows = []
    for item in items:
        rows.append({"item": item, "cells": [{"variant": v, "results": cells[item.id][v.position]}
                                             for v in variants]})
    return rows


def history(experiment) -> list[dict]:
    """Each completed run's mean per variant, for the first evaluator: the chart across runs."""
    points = []
    for run in experiment.runs.filter(status=ExperimentRun.Status.COMPLETED).order_by("number"):
        evaluators = (run.stats or {}).get("evaluators") or []
        if not evaluators:
            continue
        points.append({"number": run.number, "id": str(run.id),
                       "means": {v["position"]: v["mean"] for v in evaluators[0]["variants"]}})
    return points

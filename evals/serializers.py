"""Evaluators, runs, results and datasets as the API's JSON."""
from __future__ import annotations


def _iso(value):
    return value.isoformat() if value else None


def evaluator_json(e, latest=None) -> dict:
    return {"id": str(e.id), "name": e.name, "type": e.type, "config": e.config, "pass_threshold": e.pass_threshold,
            "project_id": str(e.project_id) if e.project_id else None, "created_at": _iso(e.created_at),
            "updated_at": _iso(e.updated_at),
            "latest_run": run_json(latest) if latest is not None else None}


def run_json(run, summary: dict | None = None) -> dict:
    data = {
        "id": str(run.id), "evaluator_id": str(run.evaluator_id), "evaluator": run.evaluator_snapshot.get("name"),
        "source": run.source, "dataset_id": str(run.dataset_id) if run.dataset_id else None,
        "filters": run.filters, "sample_size": run.sample_size, "seed": run.seed, "status": run.status,
        "total": run.total, "avg_score": run.avg_score,
        "estimate_usd": float(run.estimate_usd) if run.estimate_usd is not None else None,
        "judge_tokens": run.judge_tokens, "judge_cost_usd": float(run.judge_cost_usd), "error": run.error or None,
        "resumes": run.resumes, "created_at": _iso(run.created_at), "started_at": _iso(run.started_at),
        "finished_at": _iso(run.finished_at), "heartbeat_at": _iso(run.heartbeat_at),
    }
    if summary is not None:
        data["summary"] = summary
    return data


def result_json(r) -> dict:
    return {
        "id": r.id, "position": r.position, "request_id": str(r.request_id) if r.request_id else None,
        "dataset_item_id": str(r.dataset_item_id) if r.dataset_item_id else None, "status": r.status,
        "score": r.score, "raw_score": r.raw_score, "passed": r.passed, "reasoning": r.reasoning,
        "error": r.error or None, "cached": r.cached, "judge_tokens": r.judge_tokens,
        "judge_cost_usd": float(r.judge_cost_usd), "judge_request_ids": r.judge_request_ids,
        "input": r.input, "output": r.output, "expected_output": r.expected_output,
        "completed_at": _iso(r.completed_at),
    }


def dataset_json(d, item_count: int | None = None) -> dict:
    return {"id": str(d.id), "name": d.name, "description": d.description,
            "item_count": item_count if item_count is not None else d.items.count(),
            "created_at": _iso(d.created_at), "updated_at": _iso(d.updated_at)}


def item_json(i) -> dict:
    return {"id": str(i.id), "dataset_id": str(i.dataset_id), "input": i.input, "expected_output": i.expected_output,
            "metadata": i.metadata, "source_request_id": str(i.source_request_id) if i.source_request_id else None,
            "created_at": _iso(i.created_at), "updated_at": _iso(i.updated_at)}

"""Run your own function over a dataset from code (a CI job), scored by your evaluators,
compared with a baseline function, and gated on the score.

    import spanlens.experiments as experiments

    summary = experiments.run(dataset="support-qa", task=answer, evaluators=["relevance"],
                              baseline=answer_in_production, fail_below=0.7)

`task(input)` gets each item's input: its variables (a dict) for a variables item, the text
for a one-message item, else the list of messages; it returns the answer (text). Every call
is timed and recorded as a result of the experiment (named after the task unless `name=` is
given; its items are the dataset as it was on the first run, so runs stay comparable), the
server scores the outputs and compares the task with the baseline (paired tests). With
`fail_below=`, a score under it raises SystemExit(1), which fails the CI job.
Never imports Django.
"""
from __future__ import annotations

import sys
import time
from typing import Any, Callable

from spanlens.sdk.rest import SpanlensAPIError, call

__all__ = ["ExperimentFailed", "SpanlensAPIError", "run"]
FINISHED = ("completed", "failed")
BATCH = 100


class ExperimentFailed(Exception):
    def __init__(self, run: dict):
        super().__init__(f"experiment run {run['id']} failed: {run.get('error')}")
        self.run = run


def task_input(item_input: dict) -> Any:
    if isinstance(item_input.get("variables"), dict):
        return item_input["variables"]
    messages = item_input.get("messages") or []
    if len(messages) == 1 and isinstance(messages[0].get("content"), str):
        return messages[0]["content"]
    return messages


def _call_task(task: Callable, value) -> dict:
    started = time.perf_counter()
    try:
        output = task(value)
    except Exception as exc:  # one item's failure is that item's error, not the run's
        return {"output": None, "error": f"{exc.__class__.__name__}: {exc}"[:2000],
                "latency_ms": int((time.perf_counter() - started) * 1000)}
    return {"output": output if isinstance(output, str) else str(output),
            "latency_ms": int((time.perf_counter() - started) * 1000)}


def run(dataset: str, task: Callable[[Any], str], *, evaluators: list[str] | None = None,
        baseline: Callable[[Any], str] | None = None, fail_below: float | None = None, gate: str | None = None,
        name: str | None = None, timeout: float = 1800.0, poll_interval: float = 1.0,
        api_key: str | None = None, base_url: str | None = None) -> dict:
    """Returns the run's summary (variants, evaluators with the paired comparison, cost) with
    "run", "experiment_id" and "score" (the task's mean on the gate evaluator, the first by default)."""
    if fail_below is not None and not evaluators:
        raise ValueError("fail_below needs at least one evaluator to score the outputs")
    opts = {"api_key": api_key, "base_url": base_url}
    task_name = getattr(task, "__name__", "task") or "task"
    variants = [task_name]
    if baseline is not None:
        base_name = getattr(baseline, "__name__", "baseline") or "baseline"
        variants = [base_name if base_name != task_name else "baseline", task_name]
    body = {"name": name or task_name, "dataset": dataset, "variants": variants, "evaluators": evaluators or [],
            "baseline": variants[0]}
    opened = call("POST", "/api/v1/experiments/external-runs", json=body, **opts)
    started, items = opened["data"], opened["meta"]["items"]
    path = f"/api/v1/experiments/{started['experiment_id']}/runs/{started['id']}"
    functions = list(zip(variants, [baseline, task] if baseline is not None else [task]))
    outputs = []
    for item in items:
        value = task_input(item["input"] or {})
        for variant, function in functions:
            outputs.append({"item": item["id"], "variant": variant, **_call_task(function, value)})
        if len(outputs) >= BATCH:
            call("POST", f"{path}/outputs", json={"outputs": outputs}, **opts)
            outputs = []
    if outputs or not items:
        call("POST", f"{path}/outputs", json={"outputs": outputs}, **opts)

    deadline = time.monotonic() + timeout
    while True:
        current = call("GET", path, **opts)["data"]
        if current["status"] in FINISHED:
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"experiment run {current['id']} still {current['status']} after {timeout:.0f} s")
        time.sleep(poll_interval)
    if current["status"] == "failed":
        raise ExperimentFailed(current)
    summary = dict(current.pop("summary") or {})
    summary["run"] = current
    summary["experiment_id"] = started["experiment_id"]
    summary["score"] = _score(summary, task_name, gate)
    if fail_below is not None and (summary["score"] is None or summary["score"] < fail_below):
        shown = "no score" if summary["score"] is None else f"{summary['score']:.3f}"
        print(f"spanlens: {task_name} scored {shown}, below {fail_below}", file=sys.stderr)
        raise SystemExit(1)
    return summary


def _score(summary: dict, variant: str, gate: str | None) -> float | None:
    for evaluator in summary.get("evaluators") or []:
        if gate is None or evaluator["name"] == gate:
            for v in evaluator["variants"]:
                if v["name"] == variant:
                    return v["mean"]
            return None
    return None

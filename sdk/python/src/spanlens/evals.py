"""Run an evaluator from code and wait for its summary, over the project's API key.

    import spanlens.evals as evals
    summary = evals.run("answer-relevance", dataset="support-qa")
    summary["mean"], summary["ci_low"], summary["pass_rate"], summary["lowest"]

Without a dataset the run samples production requests (filters=, sample_size=, seed=).
Never imports Django.
"""
from __future__ import annotations

import time

from spanlens.sdk.rest import SpanlensAPIError, call

__all__ = ["EvalRunFailed", "SpanlensAPIError", "run", "start"]
FINISHED = ("completed", "failed")


class EvalRunFailed(Exception):
    def __init__(self, run: dict):
        super().__init__(f"eval run {run['id']} failed: {run.get('error')}")
        self.run = run


def start(evaluator: str, dataset: str | None = None, *, sample_size: int | None = None, seed: int | None = None,
          filters: dict | None = None, api_key: str | None = None, base_url: str | None = None) -> dict:
    """Start a run (evaluator and dataset by id or name) and return it at once."""
    body = {"evaluator": evaluator, "source": "dataset" if dataset else "production"}
    if dataset:
        body["dataset"] = dataset
    if sample_size is not None:
        body["sample_size"] = sample_size
    if seed is not None:
        body["seed"] = seed
    if filters:
        body["filters"] = filters
    return call("POST", "/api/v1/eval-runs", json=body, api_key=api_key, base_url=base_url)["data"]


def run(evaluator: str, dataset: str | None = None, *, sample_size: int | None = None, seed: int | None = None,
        filters: dict | None = None, timeout: float = 1800.0, poll_interval: float = 1.0,
        api_key: str | None = None, base_url: str | None = None) -> dict:
    """Start a run and wait for it; returns the summary (mean, sd, ci_low/ci_high, pass_rate,
    histogram, judge cost) with "run" (the run) and "lowest" (the five lowest samples)."""
    started = start(evaluator, dataset, sample_size=sample_size, seed=seed, filters=filters, api_key=api_key,
                    base_url=base_url)
    deadline = time.monotonic() + timeout
    while True:
        body = call("GET", f"/api/v1/eval-runs/{started['id']}", api_key=api_key, base_url=base_url)
        current = body["data"]
        if current["status"] in FINISHED:
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"eval run {started['id']} still {current['status']} after {timeout:.0f} s")
        time.sleep(poll_interval)
    if current["status"] == "failed":
        raise EvalRunFailed(current)
    summary = dict(current.pop("summary"))
    summary["run"] = current
    summary["lowest"] = body["meta"]["lowest"]
    return summary

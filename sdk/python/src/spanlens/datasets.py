"""Datasets from code, over the project's API key.

    import spanlens.datasets as datasets
    qa = datasets.create("support-qa", items=[{"input": "How do I reset my password?",
                                                "expected_output": "Settings → Reset password"}])
    datasets.add_items(qa["id"], [{"input": {"variables": {"city": "Paris"}}, "expected_output": "France"}])
    datasets.list()

An item's input is text (one user message), {"variables": {...}} or {"messages": [...]};
"output" (or metadata.output) is the answer an evaluator scores. Never imports Django.
"""
from __future__ import annotations

import builtins

from spanlens.sdk.rest import SpanlensAPIError, call

__all__ = ["SpanlensAPIError", "add_items", "create", "get", "list"]


def create(name: str, description: str = "", items: builtins.list[dict] | None = None, *,
           api_key: str | None = None, base_url: str | None = None) -> dict:
    body = {"name": name, "description": description}
    if items:
        body["items"] = items
    return call("POST", "/api/v1/datasets", json=body, api_key=api_key, base_url=base_url)["data"]


def list(*, api_key: str | None = None, base_url: str | None = None) -> builtins.list[dict]:
    found, page = [], 1
    while True:
        body = call("GET", "/api/v1/datasets", params={"page": page, "limit": 500}, api_key=api_key,
                    base_url=base_url)
        found += body["data"]
        if page >= body["meta"].get("pages", 1):
            return found
        page += 1


def get(dataset: str, *, api_key: str | None = None, base_url: str | None = None) -> dict:
    """A dataset by id or by name."""
    for item in list(api_key=api_key, base_url=base_url):
        if dataset in (item["id"], item["name"]):
            return item
    raise SpanlensAPIError(404, f"no dataset {dataset!r} in this organization", "dataset")


def add_items(dataset: str | dict, items: builtins.list[dict], *, api_key: str | None = None,
              base_url: str | None = None) -> int:
    """Adds all the items or none (a bad one raises, naming it); returns how many were added."""
    dataset_id = dataset["id"] if isinstance(dataset, dict) else dataset
    if not _is_uuid(dataset_id):
        dataset_id = get(dataset_id, api_key=api_key, base_url=base_url)["id"]
    body = call("POST", f"/api/v1/datasets/{dataset_id}/items", json={"items": items}, api_key=api_key,
                base_url=base_url)
    return int(body["meta"]["added"])


def _is_uuid(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True

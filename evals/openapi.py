"""The prompts, evaluations, datasets, experiments and annotation APIs in the OpenAPI
document (see spanlens.openapi)."""
from __future__ import annotations

from spanlens.openapi.schema import (
    ANY, BOOLEAN, INTEGER, NUMBER, OBJECT, PAGE, PAGE_META, STRING, array, enum, nullable, obj, op, path, query, ref,
)

PROMPTS, EVALS, DATASETS, EXPERIMENTS, ANNOTATION = "Prompts", "Evaluations", "Datasets", "Experiments", "Annotation"
DELETED = ref("Deleted")
# Answers carry more fields than listed; the listed ones are stable.
THING = obj({"id": STRING}, required=["id"])
PAGED = dict(data=array(THING), meta=PAGE_META)

NAME = path("name", "the prompt's name")
VERSION = path("number", "the version number", INTEGER)
MESSAGE = obj({"role": STRING, "content": STRING}, required=["role", "content"])
VARIABLE = obj({"name": STRING, "description": STRING, "required": BOOLEAN}, required=["name"])
PROMPT_CONTENT = {
    "kind": enum("text", "chat"), "template": STRING, "messages": array(MESSAGE), "variables": array(VARIABLE),
    "model_config": OBJECT, "commit_note": STRING,
}
PROMPT_VERSION = obj({"id": STRING, "name": STRING, "version": INTEGER}, required=["id", "version"])
PROMPT_EXPERIMENT = obj({"id": STRING, "status": STRING}, required=["id"])

EVALUATOR_ID = path("evaluator_id", "the evaluator's id")
RUN_ID = path("run_id", "the run's id")
DATASET_ID = path("dataset_id", "the dataset's id")
ITEM_ID = path("item_id", "the item's id")
EXPERIMENT_ID = path("experiment_id", "the experiment's id")
QUEUE_ID = path("queue_id", "the queue's id")
EVALUATOR_BODY = {"name": STRING, "type": enum("llm_judge", "exact_match", "contains", "regex", "json_schema",
                                                "similarity"),
                  "config": OBJECT, "pass_threshold": nullable(NUMBER), "project_id": nullable(STRING)}
ITEM = {"input": ANY, "expected_output": ANY, "metadata": nullable(OBJECT)}
FILTERS = obj(description="As on /requests: provider, model, projectId, promptVersionId, userId, from, to, …")
VARIANT = obj({"prompt_version": nullable(STRING), "provider": STRING, "model": STRING,
               "temperature": nullable(NUMBER), "max_tokens": nullable(INTEGER), "name": STRING})

PATHS = {
    # --- prompts -------------------------------------------------------------------------------
    "/api/v1/prompts": {
        "get": op("Every prompt with its latest version and labels", tag=PROMPTS, data=array(THING), errors=(400,)),
        "post": op("Create a prompt (version 1)", tag=PROMPTS, status=201, data=PROMPT_VERSION,
                   body=obj({"name": STRING, "description": STRING, "project_id": nullable(STRING),
                             **PROMPT_CONTENT}, required=["name"])),
    },
    "/api/v1/prompts/{name}": {
        "get": op("A version: by number, by label, or the latest", tag=PROMPTS, data=PROMPT_VERSION, params=[
            NAME, query("version", "a version number"), query("label", "a label, e.g. production"),
            query("userId", "the key for an A/B test on user_id"), query("sessionId"), query("traceId")]),
    },
    "/api/v1/prompts/{name}/versions": {
        "get": op("Every version", tag=PROMPTS, params=[NAME], data=array(PROMPT_VERSION)),
        "post": op("Create the next version", tag=PROMPTS, params=[NAME], status=201, data=PROMPT_VERSION,
                   body=obj(PROMPT_CONTENT)),
    },
    "/api/v1/prompts/{name}/versions/{number}/archive": {
        "post": op("Archive a version (hidden from latest)", tag=PROMPTS, params=[NAME, VERSION], data=PROMPT_VERSION),
    },
    "/api/v1/prompts/{name}/labels": {
        "get": op("Labels and the history of their moves", tag=PROMPTS, params=[NAME], data=ANY),
    },
    "/api/v1/prompts/{name}/labels/{label}": {
        "post": op("Point a label at a version", tag=PROMPTS, params=[NAME, path("label", "any label name")],
                   body=obj({"version": INTEGER}, required=["version"]), data=ANY),
    },
    "/api/v1/prompts/{name}/experiments": {
        "get": op("The A/B tests of this prompt", tag=PROMPTS, params=[NAME], data=array(PROMPT_EXPERIMENT)),
        "post": op("Start an A/B test on a label", tag=PROMPTS, params=[NAME], status=201, data=PROMPT_EXPERIMENT,
                   body=obj({"arm_b": INTEGER, "arm_a": nullable(INTEGER), "label": STRING,
                             "split_b": {"type": "integer", "minimum": 1, "maximum": 99},
                             "assignment_key": enum("user_id", "session_id", "trace_id"),
                             "ends_at": nullable(STRING), "name": STRING}, required=["arm_b"])),
    },
    "/api/v1/prompts/{name}/experiments/{experiment_id}": {
        "get": op("An A/B test with its results", tag=PROMPTS, params=[NAME, EXPERIMENT_ID], data=PROMPT_EXPERIMENT),
    },
    "/api/v1/prompts/{name}/experiments/{experiment_id}/stop": {
        "post": op("Stop an A/B test", tag=PROMPTS, params=[NAME, EXPERIMENT_ID], data=PROMPT_EXPERIMENT),
    },
    # --- evaluators and runs ---------------------------------------------------------------------
    "/api/v1/evaluators": {
        "get": op("Evaluators", tag=EVALS, params=PAGE, **PAGED),
        "post": op("Create an evaluator", tag=EVALS, status=201, data=THING,
                   body=obj(EVALUATOR_BODY, required=["name", "type"])),
    },
    "/api/v1/evaluators/{evaluator_id}": {
        "get": op("An evaluator with its recent runs", tag=EVALS, params=[EVALUATOR_ID], data=THING),
        "patch": op("Change an evaluator", tag=EVALS, params=[EVALUATOR_ID], data=THING, body=obj(EVALUATOR_BODY)),
        "delete": op("Delete an evaluator", tag=EVALS, params=[EVALUATOR_ID], data=DELETED),
    },
    "/api/v1/eval-runs": {
        "get": op("Eval runs", tag=EVALS, params=[query("evaluator", "an evaluator's id or name"),
                                                  query("status", "queued, running, completed, …"), *PAGE], **PAGED),
        "post": op("Start a run (or estimate its cost)", tag=EVALS, status=201, data=ANY,
                   description="A dataset, or production requests drawn by `filters` (`sample_size`, `seed`). "
                               "With `estimate_only` the answer is 200 with the estimate and nothing starts.",
                   body=obj({"evaluator": STRING, "dataset": nullable(STRING), "filters": FILTERS,
                             "sample_size": nullable(INTEGER), "seed": nullable(INTEGER),
                             "estimate_only": BOOLEAN}, required=["evaluator"])) | {
            "responses": op("", tag=EVALS, status=201, data=ANY)["responses"]
            | {"200": {"description": "The estimate (estimate_only)",
                       "content": {"application/json": {"schema": obj({"success": {"const": True}})}}}}},
    },
    "/api/v1/eval-runs/{run_id}": {
        "get": op("A run with its summary", tag=EVALS, params=[RUN_ID], data=THING),
    },
    "/api/v1/eval-runs/{run_id}/results": {
        "get": op("A run's results", tag=EVALS, params=[RUN_ID, query("status", "a result status"), *PAGE],
                  data=array(obj({"id": INTEGER})), meta=PAGE_META),
    },
    "/api/v1/eval-runs/{run_id}/retry-failed": {
        "post": op("Re-run only the failed samples", tag=EVALS, params=[RUN_ID], data=THING),
    },
    # --- datasets ------------------------------------------------------------------------------------
    "/api/v1/datasets": {
        "get": op("Datasets", tag=DATASETS, params=PAGE, **PAGED),
        "post": op("Create a dataset (optionally with items)", tag=DATASETS, status=201, data=THING,
                   body=obj({"name": STRING, "description": STRING, "project_id": nullable(STRING),
                             "items": array(obj(ITEM))}, required=["name"])),
    },
    "/api/v1/datasets/{dataset_id}": {
        "get": op("A dataset", tag=DATASETS, params=[DATASET_ID], data=THING),
        "patch": op("Rename or describe a dataset", tag=DATASETS, params=[DATASET_ID], data=THING,
                    body=obj({"name": STRING, "description": STRING})),
        "delete": op("Delete a dataset", tag=DATASETS, params=[DATASET_ID], data=DELETED),
    },
    "/api/v1/datasets/{dataset_id}/items": {
        "get": op("A dataset's items", tag=DATASETS, params=[DATASET_ID, *PAGE], **PAGED),
        "post": op("Add items: one, a list, or logged requests by id", tag=DATASETS, params=[DATASET_ID],
                   status=201, data=ANY,
                   body={"oneOf": [obj(ITEM), obj({"items": array(obj(ITEM))}, required=["items"]),
                                   obj({"request_ids": array(STRING, minItems=1)}, required=["request_ids"])]}),
    },
    "/api/v1/datasets/{dataset_id}/items/{item_id}": {
        "get": op("One item", tag=DATASETS, params=[DATASET_ID, ITEM_ID], data=THING),
        "patch": op("Change an item", tag=DATASETS, params=[DATASET_ID, ITEM_ID], data=THING, body=obj(ITEM)),
        "delete": op("Delete an item", tag=DATASETS, params=[DATASET_ID, ITEM_ID], data=DELETED),
    },
    "/api/v1/datasets/{dataset_id}/import": {
        "post": op("Import CSV, JSON or JSONL (dry_run previews, skip_invalid imports the good rows)", tag=DATASETS,
                   params=[DATASET_ID], status=201, data=ANY, body={"required": True, "content": {
                       "application/json": {"schema": obj({
                           "content": {"type": "string", "minLength": 1}, "format": enum("csv", "json", "jsonl"),
                           "mapping": nullable(OBJECT), "dry_run": BOOLEAN, "skip_invalid": BOOLEAN},
                           required=["content"])},
                       "multipart/form-data": {"schema": obj({
                           "file": {"type": "string", "contentMediaType": "application/octet-stream"},
                           "mapping": STRING, "dry_run": STRING, "skip_invalid": STRING}, required=["file"])},
                   }}) | {"responses": op("", tag=DATASETS, status=201, data=ANY)["responses"]
                           | {"200": {"description": "The preview (dry_run)", "content": {
                               "application/json": {"schema": obj({"success": {"const": True}})}}}}},
    },
    # --- experiments ------------------------------------------------------------------------------------
    "/api/v1/experiments": {
        "get": op("Experiments", tag=EXPERIMENTS, params=PAGE, data=array(THING)),
        "post": op("Create (and start) an experiment", tag=EXPERIMENTS, status=201, data=THING,
                   body=obj({"name": STRING, "dataset": STRING, "variants": array(VARIANT, minItems=2, maxItems=3),
                             "evaluators": array(STRING), "repetitions": {"type": "integer", "minimum": 1,
                                                                          "maximum": 5},
                             "baseline": INTEGER, "start": BOOLEAN}, required=["dataset", "variants"])),
    },
    "/api/v1/experiments/replay": {
        "post": op("Bulk replay: filtered requests on another model", tag=EXPERIMENTS, status=201, data=THING,
                   body=obj({"filters": FILTERS, "provider": STRING, "model": STRING,
                             "prompt_version": nullable(STRING), "temperature": nullable(NUMBER),
                             "evaluators": array(STRING), "name": STRING}, required=["provider", "model"])),
    },
    "/api/v1/experiments/external-runs": {
        "post": op("An experiment whose outputs your code sends (the SDK's experiments.run)", tag=EXPERIMENTS,
                   status=201, data=ANY,
                   body=obj({"name": STRING, "dataset": STRING, "variants": array(STRING),
                             "evaluators": array(STRING), "baseline": nullable(STRING)}, required=["dataset"])),
    },
    "/api/v1/experiments/{experiment_id}": {
        "get": op("An experiment with its runs and score history", tag=EXPERIMENTS, params=[EXPERIMENT_ID],
                  data=THING),
        "delete": op("Delete an experiment", tag=EXPERIMENTS, params=[EXPERIMENT_ID], data=DELETED),
    },
    "/api/v1/experiments/{experiment_id}/runs": {
        "get": op("An experiment's runs", tag=EXPERIMENTS, params=[EXPERIMENT_ID], data=array(THING)),
        "post": op("Re-run on the same snapshot", tag=EXPERIMENTS, params=[EXPERIMENT_ID], status=201, data=THING),
    },
    "/api/v1/experiments/{experiment_id}/runs/{run_id}": {
        "get": op("A run's progress and summary", tag=EXPERIMENTS, params=[EXPERIMENT_ID, RUN_ID], data=THING),
    },
    "/api/v1/experiments/{experiment_id}/runs/{run_id}/results": {
        "get": op("The outputs side by side", tag=EXPERIMENTS, data=ANY, params=[
            EXPERIMENT_ID, RUN_ID, query("limit", "at most 500", INTEGER), query("offset", "from 0", INTEGER)]),
    },
    "/api/v1/experiments/{experiment_id}/runs/{run_id}/outputs": {
        "post": op("Send outputs of an external run", tag=EXPERIMENTS, params=[EXPERIMENT_ID, RUN_ID], data=ANY,
                   body=obj({"outputs": array(obj({"item": STRING, "variant": STRING, "output": ANY,
                                                   "latency_ms": nullable(NUMBER), "error": nullable(STRING)}))},
                            required=["outputs"])),
    },
    # --- annotation ------------------------------------------------------------------------------------
    "/api/v1/score-configs": {
        "get": op("Score configs", tag=ANNOTATION, data=array(THING)),
        "post": op("Create a score config", tag=ANNOTATION, status=201, data=THING,
                   body=obj({"name": STRING, "kind": enum("numeric", "categorical", "boolean"),
                             "min_value": nullable(NUMBER), "max_value": nullable(NUMBER),
                             "categories": array(STRING), "description": STRING}, required=["name", "kind"])),
    },
    "/api/v1/annotation-queues": {
        "get": op("Annotation queues", tag=ANNOTATION, data=array(THING)),
        "post": op("Create a queue", tag=ANNOTATION, status=201, data=THING,
                   body=obj({"name": STRING, "score_config": STRING, "source": enum("experiment", "requests"),
                             "experiment_run": nullable(STRING), "filters": FILTERS, "evaluator": nullable(STRING),
                             "reviewers_per_item": INTEGER, "limit": INTEGER, "description": STRING},
                            required=["name", "score_config", "source"])),
    },
    "/api/v1/annotation-queues/{queue_id}": {
        "get": op("A queue with its progress and agreement", tag=ANNOTATION, params=[QUEUE_ID], data=THING),
        "delete": op("Delete a queue", tag=ANNOTATION, params=[QUEUE_ID], data=DELETED),
    },
    "/api/v1/annotation-queues/{queue_id}/next": {
        "post": op("Claim the next item (a signed-in reviewer)", tag=ANNOTATION, params=[QUEUE_ID], data=ANY),
    },
    "/api/v1/annotation-queues/{queue_id}/items/{item_id}/annotations": {
        "post": op("Score an item", tag=ANNOTATION, params=[QUEUE_ID, ITEM_ID], status=201, data=ANY,
                   body=obj({"value": ANY, "comment": STRING}, required=["value"])),
    },
}

"""Bulk replay: logged requests re-run on another model or prompt version, as an experiment.

The originals become a dataset (their conversations as input, their answers as output) and
the experiment's baseline is a recorded variant: their own answers, latency and cost, so
nothing is paid for twice. The candidate's messages are rebuilt in its provider's shape
from the provider-neutral conversation, which is what lets an OpenAI call replay on Claude
or Gemini."""
from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from evals import dataset_services, experiment_services
from evals.experiment_services import ExperimentError
from evals.models import Experiment, ExperimentItem

MAX_REPLAY = 1000
PROJECTION_DAYS = 30


def read_rows(organization, query_kwargs: dict, *, retention_days: int, limit: int = MAX_REPLAY) -> list[dict]:
    from spanlens.requestlog import queries

    rows = []
    for row in queries.iter_requests_for_export(organization_id=str(organization.id), retention_days=retention_days,
                                                **query_kwargs):
        if row["status_code"] < 200 or row["status_code"] >= 300:
            continue  # a failed call has no answer to compare with
        rows.append(row)
        if len(rows) >= limit:
            break
    return rows


def monthly_requests(organization, query_kwargs: dict, *, retention_days: int) -> int:
    """The traffic the filters stand for now: matching calls in the last 30 days, whatever
    date range the list had."""
    from spanlens.requestlog import queries

    kwargs = {k: v for k, v in query_kwargs.items() if k not in ("since", "until", "sort_by", "sort_dir")}
    since = timezone.now() - timedelta(days=PROJECTION_DAYS)
    return queries.list_requests(organization_id=str(organization.id), retention_days=retention_days, limit=1,
                                 since=since, **kwargs)["total"]


def create_replay(organization, rows: list[dict], *, candidate: dict, evaluators=(), name: str = "",
                  filters: dict | None = None, monthly: int = 0, project=None, user=None) -> Experiment:
    if not rows:
        raise ExperimentError("filters", "no successful requests match these filters")
    if len(rows) > MAX_REPLAY:
        raise ExperimentError("filters", f"at most {MAX_REPLAY} requests; narrow the filters")
    if not isinstance(candidate, dict) or not (candidate.get("model") or candidate.get("prompt_version")):
        raise ExperimentError("model", "choose a model or a prompt version to replay on")
    when = timezone.now().strftime("%b %d %H:%M")
    target = candidate.get("model") or candidate.get("prompt_version")
    name = (name or "").strip() or f"Replay of {len(rows)} requests on {target}"
    # Validate the candidate before anything is written.
    experiment_services.clean_variants(organization, [{"name": "original", "recorded": True}, candidate])
    dataset = dataset_services.create_dataset(organization, name=f"{name} · {when}"[:200], project=project, user=user,
                                              description="The requests of a bulk replay, with their answers.")
    dataset_services.add_requests(dataset, rows)
    by_id = {str(r["id"]): r for r in rows}
    items = []
    for position, item in enumerate(dataset.items.order_by("created_at", "id")):
        row = by_id.get(str(item.source_request_id), {})
        cost = row.get("cost_usd")
        items.append(ExperimentItem(
            organization=organization, position=position, dataset_item_id=item.id,
            source_request_id=item.source_request_id, input=item.input, expected_output=item.expected_output,
            metadata={**(item.metadata or {}), "latency_ms": row.get("latency_ms"),
                      "cost_usd": float(cost) if cost is not None else None,
                      "prompt_tokens": row.get("prompt_tokens") or 0,
                      "completion_tokens": row.get("completion_tokens") or 0}))
    models = sorted({f"{r['provider']} {r['model']}" for r in rows})
    original = "original" + (f" ({models[0]})" if len(models) == 1 else f" ({len(models)} models)")
    return experiment_services._create(
        organization, name=name[:200], kind=Experiment.Kind.REPLAY, dataset=dataset, items=items,
        variants=[{"name": original, "recorded": True}, candidate], evaluators=list(evaluators or []),
        repetitions=1, baseline=0, project=project, user=user,
        source={"filters": filters or {}, "requests": len(rows), "monthly_requests": monthly,
                "projection_days": PROJECTION_DAYS})


def cost_comparison(summary: dict, experiment: Experiment) -> dict | None:
    """Cost per request, original against replayed, and the difference over a month of the
    traffic the filters matched."""
    variants = summary.get("variants") or []
    if experiment.kind != Experiment.Kind.REPLAY or len(variants) < 2:
        return None
    original, replayed = variants[0], variants[1]
    if not original["generated"] or not replayed["generated"]:
        return None
    per_original = (original["cost_usd"] or 0) / original["generated"]
    per_replayed = (replayed["cost_usd"] or 0) / replayed["generated"]
    monthly = (experiment.source or {}).get("monthly_requests") or 0
    return {"original_per_request": per_original, "replayed_per_request": per_replayed,
            "difference_per_request": per_replayed - per_original,
            "change": (per_replayed - per_original) / per_original if per_original else None,
            "monthly_requests": monthly, "monthly_difference": (per_replayed - per_original) * monthly,
            "original_latency_p50": original["latency_p50"], "replayed_latency_p50": replayed["latency_p50"]}

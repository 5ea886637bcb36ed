"""REST under /api/v1/prompts, in the {success, data, meta} shape.

GET  /api/v1/prompts                              list
POST /api/v1/prompts                              create (with version 1)
GET  /api/v1/prompts/<name>?version=|label=       one version; while an experiment
     runs on the label, both arms and the split (the SDK assigns), or with
     userId/sessionId/traceId the assigned arm
GET/POST /api/v1/prompts/<name>/versions          list / create the next version
POST /api/v1/prompts/<name>/versions/<n>/archive
GET  /api/v1/prompts/<name>/labels                labels and their history
POST /api/v1/prompts/<name>/labels/<label>        {"version": 3} moves the label
GET/POST /api/v1/prompts/<name>/experiments       list / start
GET  /api/v1/prompts/<name>/experiments/<id>      results and verdict
POST /api/v1/prompts/<name>/experiments/<id>/stop
"""
from __future__ import annotations

import functools
import json
import uuid
from datetime import datetime, timezone

from django.http import JsonResponse

from evals import prompt_results
from evals import prompt_services as services
from evals.models import PromptExperiment, PromptLabelMove, PromptVersion
from spanlens.core import access as access_mod
from spanlens.core.access import Access, api_auth, require_write
from spanlens.core.models import Project
from spanlens.prompts import assign_arm


def _error(message: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"success": False, "error": message}, status=status)


def _ok(data, status: int = 200, **meta) -> JsonResponse:
    body = {"success": True, "data": data}
    if meta:
        body["meta"] = meta
    return JsonResponse(body, status=status)


def _allow(*methods: str):
    def decorator(view):
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            if request.method not in methods:
                response = _error(f"method {request.method} not allowed; use {' or '.join(methods)}", 405)
                response["Allow"] = ", ".join(methods)
                return response
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def _input_errors(view):
    """PromptInputError → 400 naming the field; a body that is not a JSON object → 400 too."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except services.PromptInputError as exc:
            return _error(str(exc), 400)
        except BodyError as exc:
            return _error(str(exc), 400)

    return wrapper


class BodyError(ValueError):
    pass


def _body(request) -> dict:
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise BodyError("body: not valid JSON")
    if not isinstance(body, dict):
        raise BodyError("body: must be a JSON object")
    return body


def _actor(request, access: Access):
    return access.api_key if access.api_key is not None else request.user


def _content(body: dict) -> dict:
    return {
        "kind": body.get("kind", "text"),
        "template": body.get("template", ""),
        "messages": body.get("messages"),
        "variables": body.get("variables"),
        "model_config": body.get("model_config"),
        "commit_note": body.get("commit_note", ""),
    }


# --- shapes ------------------------------------------------------------------------

def version_json(version: PromptVersion, labels: list[str] | None = None) -> dict:
    return {
        "id": str(version.id),
        "name": version.prompt.name,
        "version": version.version,
        "ref": version.ref,
        "kind": version.kind,
        "template": version.template,
        "messages": version.messages,
        "variables": version.variables,
        "model_config": version.model_config,
        "commit_note": version.commit_note,
        "author": version.author.get_username() if version.author else None,
        "labels": labels if labels is not None else sorted(version.labels.values_list("name", flat=True)),
        "archived": version.is_archived,
        "created_at": _iso(version.created_at),
        "header": str(version.id),
    }


def experiment_json(experiment: PromptExperiment) -> dict:
    return {
        "id": str(experiment.id),
        "name": experiment.name,
        "label": experiment.label,
        "arm_a": experiment.arm_a.version,
        "arm_b": experiment.arm_b.version,
        "split_b": experiment.split_b,
        "assignment_key": experiment.assignment_key,
        "running": experiment.is_running(),
        "started_at": _iso(experiment.started_at),
        "ends_at": _iso(experiment.ends_at),
        "stopped_at": _iso(experiment.stopped_at),
    }


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z") if value else None


def _label_map(prompt) -> dict[str, str]:
    return dict(prompt.labels.values_list("name", "version__version"))


# --- prompts ------------------------------------------------------------------------

@_allow("GET", "POST")
@api_auth
@_input_errors
def prompts(request, access: Access):
    if request.method == "POST":
        return _create_prompt(request, access)
    from evals.models import Prompt

    items = []
    for prompt in Prompt.objects.filter(organization=access.organization).order_by("name"):
        latest = services.latest_version(prompt)
        items.append({
            "id": str(prompt.id), "name": prompt.name, "description": prompt.description,
            "project_id": str(prompt.project_id), "latest_version": latest.version if latest else None,
            "labels": _label_map(prompt), "created_at": _iso(prompt.created_at),
        })
    return _ok(items, total=len(items))


def _create_prompt(request, access: Access) -> JsonResponse:
    require_write(access)
    body = _body(request)
    project = _project_for(request, access, body.get("project_id"))
    prompt = services.create_prompt(
        access.organization, project, body.get("name"), description=body.get("description") or "",
        actor=_actor(request, access), **_content(body),
    )
    return _ok(version_json(prompt.versions.get(version=1)), status=201)


def _project_for(request, access: Access, project_id) -> Project:
    """The key's project; for a signed-in member the one asked for, the switcher's, or the first."""
    if access.api_key is not None:
        return access.api_key.project
    if project_id:
        try:
            project = Project.objects.filter(organization=access.organization, id=uuid.UUID(str(project_id))).first()
        except ValueError:
            project = None
        if project is None:
            raise services.PromptInputError("project_id", "is not a project of this organization")
        return project
    project = access_mod.current_project(request)
    return project or Project.objects.filter(organization=access.organization).order_by("created_at").first()


@_allow("GET")
@api_auth
@_input_errors
def prompt_detail(request, access: Access, name: str):
    prompt = access_mod.get_prompt_or_404(access, name)
    number, label = _version_or_label(request.GET)
    version = services.version_for(prompt, version=number, label=label)
    if version is None:
        what = f"version {number}" if number is not None else f"label {label!r}" if label else "a live version"
        return _error(f"prompt {name!r} has no {what}", 404)
    labels = _label_map(prompt)
    data = version_json(version, sorted(n for n, v in labels.items() if v == version.version))
    experiment = services.running_experiment(prompt, label) if label and label != "latest" else None
    if experiment is None:
        return _ok(data)
    arms = {"arm_a": version_json(experiment.arm_a), "arm_b": version_json(experiment.arm_b)}
    key = request.GET.get(_KEY_PARAMS[experiment.assignment_key])
    if key:
        arm = assign_arm(str(experiment.id), key, experiment.split_b)
        served = arms["arm_b"] if arm == "B" else arms["arm_a"]
        return _ok({**served, "arm": arm, "experiment_id": str(experiment.id)})
    data["experiment"] = {**experiment_json(experiment), **arms}
    return _ok(data)


_KEY_PARAMS = {"user_id": "userId", "session_id": "sessionId", "trace_id": "traceId"}


def _version_or_label(query) -> tuple[int | None, str | None]:
    raw_version, label = query.get("version"), query.get("label")
    if raw_version and label:
        raise services.PromptInputError("version", "pass version or label, not both")
    if raw_version:
        if not raw_version.isdecimal() or int(raw_version) < 1:
            raise services.PromptInputError("version", "must be a version number (1, 2, 3…)")
        return int(raw_version), None
    if label is not None:
        label = label.strip()
        if label != "latest":
            services.clean_label(label)
        return None, label
    return None, None


# --- versions -------------------------------------------------------------------------

@_allow("GET", "POST")
@api_auth
@_input_errors
def versions(request, access: Access, name: str):
    prompt = access_mod.get_prompt_or_404(access, name)
    if request.method == "POST":
        require_write(access)
        version = services.create_version(prompt, actor=_actor(request, access), **_content(_body(request)))
        return _ok(version_json(version, []), status=201)
    labels = _label_map(prompt)
    items = [
        version_json(v, sorted(n for n, num in labels.items() if num == v.version))
        for v in prompt.versions.select_related("author", "prompt").order_by("-version")
    ]
    return _ok(items, total=len(items))


@_allow("POST")
@api_auth
@_input_errors
def archive_version(request, access: Access, name: str, number: int):
    require_write(access)
    prompt = access_mod.get_prompt_or_404(access, name)
    version = access_mod.get_prompt_version_or_404(access, prompt, number)
    services.archive_version(version, actor=_actor(request, access))
    return _ok(version_json(version))


# --- labels ---------------------------------------------------------------------------

@_allow("GET")
@api_auth
def labels(request, access: Access, name: str):
    prompt = access_mod.get_prompt_or_404(access, name)
    history = PromptLabelMove.objects.filter(prompt=prompt).select_related("from_version", "to_version", "moved_by")
    return _ok({
        "labels": _label_map(prompt),
        "history": [
            {
                "label": m.label,
                "from": m.from_version.version if m.from_version else None,
                "to": m.to_version.version,
                "moved_by": m.moved_by.get_username() if m.moved_by else None,
                "moved_at": _iso(m.moved_at),
            }
            for m in history
        ],
    })


@_allow("POST")
@api_auth
@_input_errors
def move_label(request, access: Access, name: str, label: str):
    require_write(access)
    prompt = access_mod.get_prompt_or_404(access, name)
    number = _body(request).get("version")
    if not isinstance(number, int) or isinstance(number, bool):
        raise services.PromptInputError("version", "must be the version number to point the label at")
    version = prompt.versions.filter(version=number).first()
    if version is None:
        raise services.PromptInputError("version", f"{name} has no version {number}")
    services.move_label(prompt, label, version, actor=_actor(request, access))
    return _ok({"label": label, "version": number, "labels": _label_map(prompt)})


# --- experiments ------------------------------------------------------------------------

@_allow("GET", "POST")
@api_auth
@_input_errors
def experiments(request, access: Access, name: str):
    prompt = access_mod.get_prompt_or_404(access, name)
    if request.method == "POST":
        require_write(access)
        body = _body(request)
        experiment = services.start_experiment(
            prompt,
            arm_a=_arm(prompt, body, "arm_a", required=False),
            arm_b=_arm(prompt, body, "arm_b", required=True),
            label=body.get("label", "production"),
            split_b=body.get("split_b", 50),
            assignment_key=body.get("assignment_key", "user_id"),
            ends_at=_timestamp(body.get("ends_at"), "ends_at"),
            name=body.get("name") or "",
            actor=_actor(request, access),
        )
        return _ok(experiment_json(experiment), status=201)
    items = [experiment_json(e) for e in prompt.experiments.select_related("arm_a", "arm_b")]
    return _ok(items, total=len(items))


def _arm(prompt, body: dict, field: str, *, required: bool):
    number = body.get(field)
    if number is None and not required:
        return None
    if not isinstance(number, int) or isinstance(number, bool):
        raise services.PromptInputError(field, "must be a version number")
    version = prompt.versions.filter(version=number).first()
    if version is None:
        raise services.PromptInputError(field, f"{prompt.name} has no version {number}")
    return version


def _timestamp(raw, field: str) -> datetime | None:
    if raw in (None, ""):
        return None
    try:
        value = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        raise services.PromptInputError(field, "must be an ISO 8601 timestamp such as 2030-01-31T12:00:00Z")
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


@_allow("GET")
@api_auth
def experiment_detail(request, access: Access, name: str, experiment_id: str):
    prompt = access_mod.get_prompt_or_404(access, name)
    experiment = access_mod.get_prompt_experiment_or_404(access, prompt, experiment_id)
    results = prompt_results.experiment_results(experiment, retention_days=access.retention_days)
    return _ok({**experiment_json(experiment), "results": results.as_dict()})


@_allow("POST")
@api_auth
def stop_experiment(request, access: Access, name: str, experiment_id: str):
    require_write(access)
    prompt = access_mod.get_prompt_or_404(access, name)
    experiment = access_mod.get_prompt_experiment_or_404(access, prompt, experiment_id)
    services.stop_experiment(experiment, actor=_actor(request, access))
    return _ok(experiment_json(experiment))

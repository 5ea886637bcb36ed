"""Prompt pages: /prompts and /prompts/<name> with its tabs (versions, diff,
labels, playground, calls, A/B). Views parse, call a service or query, render;
every object is reached through spanlens.core.access."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from urllib.parse import quote

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from dashboard import charts
from dashboard import rows as rows_mod
from evals import prompt_diff, prompt_playground, prompt_refs, prompt_results
from evals import prompt_services as services
from evals.models import Prompt, PromptExperiment, PromptLabelMove
from spanlens.core import access as access_mod
from spanlens.core.access import Access, org_required, require_write
from spanlens.core.models import ModelPrice, Project, ProviderKey
from spanlens.requestlog import queries

TABS = (("versions", "Versions"), ("diff", "Diff"), ("labels", "Labels"), ("playground", "Playground"),
        ("calls", "Calls"), ("ab", "A/B test"))
ROLES = services.ROLES
EDITOR_MESSAGE_SLOTS = 4
DAYS = 7


def _url(prompt: Prompt, **params) -> str:
    query = "&".join(f"{k}={quote(str(v), safe='')}" for k, v in params.items() if v not in (None, ""))
    return f"/prompts/{quote(prompt.name, safe='')}/" + (f"?{query}" if query else "")


# --- /prompts -----------------------------------------------------------------------

@org_required
def prompt_list(request: HttpRequest, access: Access) -> HttpResponse:
    prompts = list(Prompt.objects.filter(organization=access.organization).prefetch_related("versions", "labels"))
    version_ids = {str(v.id): p for p in prompts for v in p.versions.all()}
    totals = queries.list_prompt_version_totals(
        organization_id=access.organization.id, version_ids=list(version_ids),
        retention_days=access.retention_days, days=DAYS,
    )
    daily = queries.list_prompt_daily_calls(
        organization_id=access.organization.id, version_ids=list(version_ids),
        retention_days=access.retention_days, days=DAYS,
    )
    rows = []
    for prompt in prompts:
        mine = {str(v.id) for v in prompt.versions.all()}
        calls = sum(int(t["calls"]) for t in totals if t["version_id"] in mine)
        errors = sum(int(t["errors"]) for t in totals if t["version_id"] in mine)
        live = [v for v in prompt.versions.all() if v.archived_at is None]
        rows.append({
            "prompt": prompt,
            "latest": max(live, key=lambda v: v.version) if live else None,
            "labels": sorted((label.name, _version_number(prompt, label.version_id)) for label in prompt.labels.all()),
            "calls": calls,
            "cost": sum(float(t["cost_usd"] or 0) for t in totals if t["version_id"] in mine),
            "error_rate": errors / calls if calls else 0.0,
            "sampled": any(int(t.get("sampled_rows") or 0) for t in totals if t["version_id"] in mine),
            "spark": charts.spark(_daily_series([d for d in daily if d["version_id"] in mine]),
                                  label=f"Calls per day, last {DAYS} days"),
        })
    return render(request, "evals/prompts/list.html", {"rows": rows, "can_write": access.can_write, "days": DAYS})


def _version_number(prompt: Prompt, version_id) -> int | None:
    return next((v.version for v in prompt.versions.all() if v.id == version_id), None)


def _daily_series(days: list[dict]) -> list[float]:
    today = datetime.now(timezone.utc).date()
    by_day: dict[str, float] = {}
    for d in days:
        by_day[d["day"]] = by_day.get(d["day"], 0.0) + float(d["calls"])
    return [by_day.get((today - timedelta(days=DAYS - 1 - i)).isoformat(), 0.0) for i in range(DAYS)]


@org_required
def prompt_new(request: HttpRequest, access: Access) -> HttpResponse:
    require_write(access)
    projects = Project.objects.filter(organization=access.organization).order_by("name")
    form, error = {"kind": "text", "messages": _message_slots([])}, None
    if request.method == "POST":
        form = _form_values(request.POST)
        try:
            project = projects.filter(id=access_mod.uuid_or_404(request.POST.get("project_id"))).first() \
                if request.POST.get("project_id") else (access_mod.current_project(request) or projects.first())
            prompt = services.create_prompt(
                access.organization, project, request.POST.get("name"),
                description=request.POST.get("description", ""), actor=request.user, **_content(request.POST),
            )
        except services.PromptInputError as exc:
            error = exc
        else:
            messages.success(request, f"Created {prompt.name} with version 1.")
            return redirect(_url(prompt))
    return render(request, "evals/prompts/new.html", {
        "form": form, "error": error, "projects": projects, "roles": ROLES,
        "config_providers": ProviderKey.Provider.values,
        "current_project": access_mod.current_project(request),
    }, status=400 if error else 200)


# --- /prompts/<name> ---------------------------------------------------------------

@org_required
def prompt_detail(request: HttpRequest, access: Access, name: str) -> HttpResponse:
    prompt = access_mod.get_prompt_or_404(access, name)
    tab = request.GET.get("tab", "versions")
    if tab not in dict(TABS):
        tab = "versions"
    context = _detail_context(access, prompt, tab, request)
    return render(request, "evals/prompts/detail.html", context)


def _detail_context(access: Access, prompt: Prompt, tab: str, request: HttpRequest, **extra) -> dict:
    versions = list(prompt.versions.select_related("author").order_by("-version"))
    labels = list(prompt.labels.select_related("version").order_by("name"))
    by_version: dict[int, list[str]] = {}
    for label in labels:
        by_version.setdefault(label.version.version, []).append(label.name)
    for version in versions:
        version.label_names = by_version.get(version.version, [])
    latest = next((v for v in versions if v.archived_at is None), None)
    selected = _selected_version(request, versions, latest)
    context = {
        "prompt": prompt, "tab": tab, "tabs": TABS, "versions": versions, "labels": labels, "latest": latest,
        "selected": selected, "can_write": access.can_write, "roles": ROLES, "summary": _summary(access, versions),
        "config_providers": ProviderKey.Provider.values,
        "base_url": _url(prompt),
    }
    builders = {"versions": _versions_tab, "diff": _diff_tab, "labels": _labels_tab, "playground": _playground_tab,
                "calls": _calls_tab, "ab": _ab_tab}
    context.update(builders[tab](access, prompt, request, context))
    context.update(extra)
    return context


def _selected_version(request, versions, latest):
    raw = request.GET.get("version") or request.POST.get("version")
    if raw and str(raw).isdecimal():
        found = next((v for v in versions if v.version == int(raw)), None)
        if found:
            return found
    return latest or (versions[0] if versions else None)


def _summary(access: Access, versions) -> dict:
    totals = queries.list_prompt_version_totals(
        organization_id=access.organization.id, version_ids=[str(v.id) for v in versions],
        retention_days=access.retention_days, days=DAYS,
    )
    calls = sum(int(t["calls"]) for t in totals)
    errors = sum(int(t["errors"]) for t in totals)
    return {"calls": calls, "cost": sum(float(t["cost_usd"] or 0) for t in totals),
            "error_rate": errors / calls if calls else 0.0, "days": DAYS,
            "sampled": any(int(t.get("sampled_rows") or 0) for t in totals)}


def _versions_tab(access, prompt, request, context) -> dict:
    base = context["selected"]
    form = {
        "kind": base.kind if base else "text",
        "template": base.template if base else "",
        "messages": _message_slots(base.messages if base else []),
        "variables": base.variables if base else [],
        "model_config": base.model_config if base else {},
    }
    return {"form": form, "editing": request.GET.get("edit") == "1"}


def _diff_tab(access, prompt, request, context) -> dict:
    versions = context["versions"]
    if len(versions) < 2:
        return {"diff_rows": None}
    numbers = {v.version: v for v in versions}

    def pick(param, default):
        raw = request.GET.get(param, "")
        return numbers.get(int(raw)) if raw.isdecimal() and int(raw) in numbers else default

    right = pick("b", versions[0])
    left = pick("a", next((v for v in versions if v.version < right.version), versions[-1]))
    return {"diff_left": left, "diff_right": right, "diff_rows": prompt_diff.diff_versions(left, right)}


def _labels_tab(access, prompt, request, context) -> dict:
    history = PromptLabelMove.objects.filter(prompt=prompt).select_related("from_version", "to_version", "moved_by")
    return {"history": list(history[:200])}


def _playground_tab(access, prompt, request, context) -> dict:
    version = context["selected"]
    keys = set(ProviderKey.objects.filter(organization=access.organization, is_active=True)
               .values_list("provider", flat=True))
    providers = [p for p in prompt_playground.PROVIDERS if p in keys]
    config = version.model_config if version else {}
    provider = config.get("provider") if config.get("provider") in providers else (providers[0] if providers else "")
    models = {p: list(ModelPrice.objects.filter(provider=p, mode="chat").values_list("model", flat=True)[:50])
              for p in providers}
    return {
        "providers": providers, "pg_provider": provider,
        "pg_model": config.get("model") or prompt_playground.DEFAULT_MODELS.get(provider, ""),
        "pg_temperature": config.get("temperature", ""), "pg_max_tokens": config.get("max_tokens", ""),
        "pg_values": {}, "models": models,
    }


def _calls_tab(access, prompt, request, context) -> dict:
    versions = context["versions"]
    raw = request.GET.get("version", "")
    chosen = [v for v in versions if str(v.version) == raw] or versions
    ids = [str(v.id) for v in chosen]
    if len(chosen) == len(versions):
        ids += prompt_refs.label_ids(prompt)  # calls made before the label they named existed
    rows = queries.list_prompt_calls(
        organization_id=access.organization.id, version_ids=ids, retention_days=access.retention_days, limit=50,
    )
    return {"calls": rows_mod.with_key_names(access.organization.id, rows),
            "calls_version": chosen[0] if len(chosen) == 1 else None}


def _ab_tab(access, prompt, request, context) -> dict:
    experiments = list(prompt.experiments.select_related("arm_a", "arm_b", "created_by"))
    raw = request.GET.get("experiment")
    current = next((e for e in experiments if str(e.id) == raw), None) if raw else None
    current = current or next((e for e in experiments if e.is_running()), None)
    current = current or (experiments[0] if experiments else None)
    results = prompt_results.experiment_results(current, retention_days=access.retention_days) if current else None
    running_labels = {e.label for e in experiments if e.is_running()}
    return {
        "experiments": experiments, "experiment": current, "results": results,
        "startable_labels": [label for label in context["labels"] if label.name not in running_labels],
        "assignment_keys": PromptExperiment.AssignmentKey.choices,
    }


# --- writes -------------------------------------------------------------------------

@org_required
@require_POST
def version_create(request: HttpRequest, access: Access, name: str) -> HttpResponse:
    require_write(access)
    prompt = access_mod.get_prompt_or_404(access, name)
    try:
        version = services.create_version(prompt, actor=request.user, **_content(request.POST))
    except services.PromptInputError as exc:
        context = _detail_context(access, prompt, "versions", request, editing=True, error=exc,
                                  form=_form_values(request.POST))
        return render(request, "evals/prompts/detail.html", context, status=400)
    messages.success(request, f"Saved version {version.version}.")
    return redirect(_url(prompt, version=version.version))


@org_required
@require_POST
def version_archive(request: HttpRequest, access: Access, name: str, number: int) -> HttpResponse:
    require_write(access)
    prompt = access_mod.get_prompt_or_404(access, name)
    version = access_mod.get_prompt_version_or_404(access, prompt, number)
    try:
        services.archive_version(version, actor=request.user)
    except services.PromptInputError as exc:
        messages.error(request, f"Version {version.version} was not archived: {exc.message}.")
    else:
        messages.success(request, f"Archived version {version.version}.")
    return redirect(_url(prompt, version=version.version))


@org_required
@require_POST
def label_move(request: HttpRequest, access: Access, name: str) -> HttpResponse:
    require_write(access)
    prompt = access_mod.get_prompt_or_404(access, name)
    raw = request.POST.get("version", "")
    version = prompt.versions.filter(version=int(raw)).first() if raw.isdecimal() else None
    try:
        if version is None:
            raise services.PromptInputError("version", "pick a version")
        label = services.move_label(prompt, request.POST.get("label"), version, actor=request.user)
    except services.PromptInputError as exc:
        messages.error(request, f"The label was not moved: {exc}.")
    else:
        messages.success(request, f"{label.name} now points at version {version.version}.")
    return redirect(_url(prompt, tab="labels"))


@org_required
@require_POST
def playground_run(request: HttpRequest, access: Access, name: str) -> HttpResponse:
    require_write(access)
    prompt = access_mod.get_prompt_or_404(access, name)
    version = access_mod.get_prompt_version_or_404(access, prompt, request.POST.get("version"))
    values = {key[4:]: value for key, value in request.POST.items() if key.startswith("var_") and value != ""}
    error, result = None, None
    try:
        result = prompt_playground.run(
            version, provider=request.POST.get("provider", ""), model=request.POST.get("model", ""), values=values,
            temperature=_number(request.POST.get("temperature"), float, "temperature"),
            max_tokens=_number(request.POST.get("max_tokens"), int, "max_tokens"),
        )
    except (prompt_playground.PlaygroundError, services.PromptInputError) as exc:
        error = exc
    context = {"pg_result": result, "pg_error": error, "prompt": prompt, "selected": version}
    if request.htmx:
        return render(request, "evals/prompts/detail.html#playground-result", context, status=400 if error else 200)
    context = _detail_context(access, prompt, "playground", request, **context)
    context.update({"pg_values": values, "pg_provider": request.POST.get("provider", ""),
                    "pg_model": request.POST.get("model", "")})
    return render(request, "evals/prompts/detail.html", context, status=400 if error else 200)


def _number(raw, kind, field):
    if raw in (None, ""):
        return None
    try:
        return kind(raw)
    except ValueError:
        raise services.PromptInputError(field, f"must be a {'whole ' if kind is int else ''}number")


@org_required
@require_POST
def experiment_start(request: HttpRequest, access: Access, name: str) -> HttpResponse:
    require_write(access)
    prompt = access_mod.get_prompt_or_404(access, name)
    post = request.POST
    try:
        arm_a = _version_field(prompt, post.get("arm_a"), "arm_a", required=False)
        arm_b = _version_field(prompt, post.get("arm_b"), "arm_b", required=True)
        ends_at = None
        if post.get("ends_at"):
            try:
                ends_at = datetime.fromisoformat(post["ends_at"]).replace(tzinfo=timezone.utc)
            except ValueError:
                raise services.PromptInputError("ends_at", "must be a date and time")
        experiment = services.start_experiment(
            prompt, arm_a=arm_a, arm_b=arm_b, label=post.get("label", "production"), split_b=post.get("split_b", 50),
            assignment_key=post.get("assignment_key", "user_id"), ends_at=ends_at, name=post.get("name", ""),
            actor=request.user,
        )
    except services.PromptInputError as exc:
        messages.error(request, f"The experiment was not started: {exc}.")
        return redirect(_url(prompt, tab="ab"))
    messages.success(request, f"Started: {experiment.split_b}% of {prompt.name}@{experiment.label} now get "
                              f"version {arm_b.version}.")
    return redirect(_url(prompt, tab="ab", experiment=experiment.id))


def _version_field(prompt, raw, field, *, required):
    if not raw:
        if required:
            raise services.PromptInputError(field, "pick a version")
        return None
    version = prompt.versions.filter(version=int(raw)).first() if str(raw).isdecimal() else None
    if version is None:
        raise services.PromptInputError(field, "is not a version of this prompt")
    return version


@org_required
@require_POST
def experiment_stop(request: HttpRequest, access: Access, name: str, experiment_id: str) -> HttpResponse:
    require_write(access)
    prompt = access_mod.get_prompt_or_404(access, name)
    experiment = access_mod.get_prompt_experiment_or_404(access, prompt, experiment_id)
    services.stop_experiment(experiment, actor=request.user)
    messages.success(request, f"Stopped. {prompt.name}@{experiment.label} serves version "
                              f"{experiment.arm_a.version} to everyone again.")
    return redirect(_url(prompt, tab="ab", experiment=experiment.id))


# --- the editor's form ------------------------------------------------------------------

def _content(post) -> dict:
    """The editor's fields as create_version's arguments."""
    kind = post.get("kind", "text")
    chat = []
    for i in range(int(post.get("message_count") or EDITOR_MESSAGE_SLOTS)):
        content = post.get(f"content_{i}", "")
        if content.strip():
            chat.append({"role": post.get(f"role_{i}", "user"), "content": content})
    variables = []
    for key in post:
        if key.startswith("vardesc_"):
            var = key[8:]
            variables.append({"name": var, "description": post.get(key, ""), "required": f"varreq_{var}" in post})
    config = {}
    for key in ("provider", "model"):
        if post.get(f"config_{key}", "").strip():
            config[key] = post[f"config_{key}"].strip()
    for key, kind_ in (("temperature", float), ("max_tokens", int)):
        if post.get(f"config_{key}", "").strip():
            config[key] = _number(post[f"config_{key}"].strip(), kind_, f"model_config.{key}")
    return {"kind": kind, "template": post.get("template", ""), "messages": chat if kind == "chat" else None,
            "variables": variables, "model_config": config, "commit_note": post.get("commit_note", "")}


def _form_values(post) -> dict:
    """What the user typed, to put back in the editor beside the error."""
    try:
        content = _content(post)
    except services.PromptInputError:
        content = {"kind": post.get("kind", "text"), "template": post.get("template", ""), "messages": [],
                   "variables": [], "model_config": {}}
    return {
        "name": post.get("name", ""), "description": post.get("description", ""), "kind": content["kind"],
        "template": post.get("template", ""),
        "messages": _message_slots([{"role": post.get(f"role_{i}", "user"), "content": post.get(f"content_{i}", "")}
                                    for i in range(int(post.get("message_count") or EDITOR_MESSAGE_SLOTS))]),
        "variables": content["variables"], "model_config": content["model_config"],
        "commit_note": post.get("commit_note", ""),
    }


def _message_slots(existing: list[dict]) -> list[dict]:
    slots = [dict(m) for m in existing if m.get("content")]
    if not slots:
        slots = [{"role": "system", "content": ""}, {"role": "user", "content": ""}]
    # Room for one more message than the version has, and never fewer than the usual slots.
    slots += [{"role": "user", "content": ""} for _ in range(max(EDITOR_MESSAGE_SLOTS, len(slots) + 1) - len(slots))]
    return slots

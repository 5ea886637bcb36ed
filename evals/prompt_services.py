"""Every write to prompts: create prompts and versions, archive, move labels,
start and stop experiments. Each clears the proxy's resolution cache for the
prompt once committed, and leaves an audit event.

Bad input raises PromptInputError naming the field; the API turns it into a
400 and pages into a form error.
"""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.utils import timezone

from evals import prompt_resolve
from evals.models import Prompt, PromptExperiment, PromptLabel, PromptLabelMove, PromptVersion
from proxy.logentry import prompt_version_uuid
from spanlens.core import audit
from spanlens.prompts import find_variables

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,199}$")
LABEL = re.compile(r"^[a-z0-9][a-z0-9_.\-]{0,63}$")
ROLES = ("system", "user", "assistant", "developer")
RESERVED_LABELS = ("latest",)
MAX_TEMPLATE = 100_000


class PromptInputError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def version_id(organization_id, name: str, number: int) -> uuid.UUID:
    """The id every version gets: what the proxy records for `name@number`, so old rows link up."""
    return uuid.UUID(prompt_version_uuid(f"{name}@{int(number)}", str(organization_id)))


# --- validation -------------------------------------------------------------------

def clean_name(name) -> str:
    name = (name or "").strip() if isinstance(name, str) else ""
    if not name:
        raise PromptInputError("name", "is required")
    if not NAME.match(name):
        raise PromptInputError("name", "use letters, digits, '_', '-' and '.', starting with a letter or digit")
    if name == "new":  # /prompts/new/ is the page that creates one
        raise PromptInputError("name", "'new' is reserved; pick another name")
    return name


def clean_label(label) -> str:
    label = (label or "").strip() if isinstance(label, str) else ""
    if not label:
        raise PromptInputError("label", "is required")
    if label in RESERVED_LABELS or label.isdigit() or not LABEL.match(label):
        raise PromptInputError(
            "label", "use lower-case letters, digits, '_', '-' and '.' (not 'latest' and not a number)"
        )
    return label


@dataclass
class VersionContent:
    kind: str
    template: str
    messages: list[dict]
    variables: list[dict]
    model_config: dict
    commit_note: str


def clean_content(*, kind="text", template="", messages=None, variables=None, model_config=None,
                  commit_note="") -> VersionContent:
    """Validate a new version's content and settle its variables from the template."""
    if kind not in PromptVersion.Kind.values:
        raise PromptInputError("kind", "must be text or chat")
    if kind == "text":
        if not isinstance(template, str) or not template.strip():
            raise PromptInputError("template", "is required for a text prompt")
        if len(template) > MAX_TEMPLATE:
            raise PromptInputError("template", f"is longer than {MAX_TEMPLATE} characters")
        messages, texts = [], [template]
    else:
        template = ""
        messages = _clean_messages(messages)
        texts = [m["content"] for m in messages]
    if model_config is None:
        model_config = {}
    if not isinstance(model_config, dict):
        raise PromptInputError("model_config", "must be an object such as {\"model\": \"gpt-4o-mini\"}")
    for key in ("temperature", "top_p"):
        if key in model_config and model_config[key] is not None and not isinstance(model_config[key], (int, float)):
            raise PromptInputError(f"model_config.{key}", "must be a number")
    if "max_tokens" in model_config and model_config["max_tokens"] is not None and (
        not isinstance(model_config["max_tokens"], int) or model_config["max_tokens"] < 1
    ):
        raise PromptInputError("model_config.max_tokens", "must be a positive whole number")
    if not isinstance(commit_note, str) or len(commit_note) > 500:
        raise PromptInputError("commit_note", "must be text of at most 500 characters")
    return VersionContent(kind, template, messages, _settle_variables(texts, variables), model_config,
                          commit_note.strip())


def _clean_messages(messages) -> list[dict]:
    if not isinstance(messages, list) or not messages:
        raise PromptInputError("messages", "a chat prompt needs a list of {role, content} messages")
    out = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise PromptInputError(f"messages[{i}]", "must be an object with role and content")
        role, content = message.get("role"), message.get("content")
        if role not in ROLES:
            raise PromptInputError(f"messages[{i}].role", f"must be one of {', '.join(ROLES)}")
        if not isinstance(content, str) or not content.strip():
            raise PromptInputError(f"messages[{i}].content", "is required")
        out.append({"role": role, "content": content})
    if sum(len(m["content"]) for m in out) > MAX_TEMPLATE:
        raise PromptInputError("messages", f"are longer than {MAX_TEMPLATE} characters in all")
    return out


def _settle_variables(texts: list[str], given) -> list[dict]:
    """The template's placeholders, in order; descriptions and `required` come from what was given."""
    if given is None:
        given = []
    if not isinstance(given, list):
        raise PromptInputError("variables", "must be a list of {name, description, required}")
    declared: dict[str, dict] = {}
    for i, item in enumerate(given):
        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise PromptInputError(f"variables[{i}]", "must be an object with a name")
        if "required" in item and not isinstance(item["required"], bool):
            raise PromptInputError(f"variables[{i}].required", "must be true or false")
        declared[item["name"]] = item
    settled = []
    for name in find_variables(*texts):
        item = declared.get(name, {})
        settled.append({
            "name": name,
            "description": str(item.get("description") or "")[:500],
            "required": bool(item.get("required", True)),
        })
    return settled


# --- prompts and versions ------------------------------------------------------------

def create_prompt(organization, project, name, *, description: str = "", actor=None, **content) -> Prompt:
    """A new prompt with its version 1 (content as for create_version)."""
    name = clean_name(name)
    cleaned = clean_content(**content)
    if project is None or project.organization_id != organization.id:
        raise PromptInputError("project", "is not a project of this organization")
    if Prompt.objects.filter(organization=organization, name=name).exists():
        raise PromptInputError("name", f"a prompt named {name!r} already exists")
    try:
        with transaction.atomic():
            prompt = Prompt.objects.create(
                organization=organization, project=project, name=name,
                description=(description or "").strip()[:2000], created_by=_user(actor),
            )
            _add_version(prompt, cleaned, actor)
            audit.record(organization, "prompt.create", actor=actor, target=prompt)
    except IntegrityError:
        raise PromptInputError("name", f"a prompt named {name!r} already exists")
    _invalidate_on_commit(prompt)
    return prompt


def create_version(prompt: Prompt, *, actor=None, **content) -> PromptVersion:
    """The next version of a prompt. Old versions are never touched."""
    cleaned = clean_content(**content)
    with transaction.atomic():
        # The lock numbers concurrent saves 1, 2, 3… instead of failing one on the unique key.
        Prompt.objects.select_for_update().filter(id=prompt.id).first()
        version = _add_version(prompt, cleaned, actor)
        audit.record(prompt.organization_id, "prompt.version_create", actor=actor, target=version)
    _invalidate_on_commit(prompt)
    return version


def _add_version(prompt: Prompt, content: VersionContent, actor) -> PromptVersion:
    number = (prompt.versions.aggregate(n=Max("version"))["n"] or 0) + 1
    version = PromptVersion(
        id=version_id(prompt.organization_id, prompt.name, number),
        organization_id=prompt.organization_id, prompt=prompt, version=number,
        kind=content.kind, template=content.template, messages=content.messages, variables=content.variables,
        model_config=content.model_config, commit_note=content.commit_note, author=_user(actor),
    )
    version.save(force_insert=True)
    return version


def archive_version(version: PromptVersion, *, actor=None) -> PromptVersion:
    """Hide a version from `latest` and from new labels; it stays readable and linked."""
    labels = list(version.labels.values_list("name", flat=True))
    if labels:
        raise PromptInputError("version", f"labels {', '.join(labels)} point at it; move them first")
    if _running(version.prompt).filter(Q(arm_a=version) | Q(arm_b=version)).exists():
        raise PromptInputError("version", "a running experiment serves it; stop the experiment first")
    if version.archived_at is None:
        version.archived_at = timezone.now()
        version.save(update_fields=["archived_at"])
        audit.record(version.organization_id, "prompt.version_archive", actor=actor, target=version)
        _invalidate_on_commit(version.prompt)
    return version


def move_label(prompt: Prompt, label, version: PromptVersion, *, actor=None) -> PromptLabel:
    """Point a label at a version (creating the label on first use); every move is kept."""
    label = clean_label(label)
    if version.prompt_id != prompt.id:
        raise PromptInputError("version", "is not a version of this prompt")
    if version.is_archived:
        raise PromptInputError("version", "is archived")
    with transaction.atomic():
        current = PromptLabel.objects.select_for_update().filter(prompt=prompt, name=label).first()
        if current is not None and current.version_id == version.id:
            return current
        from_version = current.version if current else None
        if current is None:
            current = PromptLabel(organization_id=prompt.organization_id, prompt=prompt, name=label, version=version)
        current.version = version
        current.save()
        PromptLabelMove.objects.create(
            organization_id=prompt.organization_id, prompt=prompt, label=label,
            from_version=from_version, to_version=version, moved_by=_user(actor),
        )
        audit.record(prompt.organization_id, "prompt.label_move", actor=actor, target=prompt, details={
            "label": label, "from": from_version.version if from_version else None, "to": version.version,
        })
    _invalidate_on_commit(prompt)
    return current


# --- reads the services share with the API and pages ----------------------------------

def latest_version(prompt: Prompt) -> PromptVersion | None:
    return prompt.versions.filter(archived_at__isnull=True).order_by("-version").first()


def version_for(prompt: Prompt, *, version=None, label=None) -> PromptVersion | None:
    """By number, by label (`latest` included), or the latest."""
    if version is not None:
        return prompt.versions.filter(version=version).first()
    if label and label != "latest":
        found = prompt.labels.select_related("version").filter(name=label).first()
        return found.version if found else None
    return latest_version(prompt)


# --- experiments -------------------------------------------------------------------

def _running(prompt: Prompt):
    now = timezone.now()
    return PromptExperiment.objects.filter(prompt=prompt, stopped_at__isnull=True, started_at__lte=now).exclude(
        ends_at__lte=now
    )


def running_experiment(prompt: Prompt, label: str) -> PromptExperiment | None:
    return _running(prompt).filter(label=label).select_related("arm_a", "arm_b").first()


def start_experiment(prompt: Prompt, *, arm_b: PromptVersion, arm_a: PromptVersion | None = None,
                     label: str = "production", split_b=50, assignment_key: str = "user_id",
                     ends_at: datetime | None = None, name: str = "", actor=None) -> PromptExperiment:
    """Serve arm B to split_b % of assignment keys fetching `label` (arm A: the label's version)."""
    label = clean_label(label)
    current = prompt.labels.filter(name=label).select_related("version").first()
    if current is None:
        raise PromptInputError("label", f"{prompt.name} has no label {label!r}; move it to a version first")
    arm_a = arm_a or current.version
    for field, arm in (("arm_a", arm_a), ("arm_b", arm_b)):
        if arm is None or arm.prompt_id != prompt.id:
            raise PromptInputError(field, "must be a version of this prompt")
        if arm.is_archived:
            raise PromptInputError(field, "is archived")
    if arm_a.id == arm_b.id:
        raise PromptInputError("arm_b", "must differ from arm A")
    try:
        split_b = int(split_b)
    except (TypeError, ValueError):
        raise PromptInputError("split_b", "must be a whole percent between 1 and 99")
    if not 1 <= split_b <= 99:
        raise PromptInputError("split_b", "must be a whole percent between 1 and 99")
    if assignment_key not in PromptExperiment.AssignmentKey.values:
        raise PromptInputError("assignment_key", f"must be one of {', '.join(PromptExperiment.AssignmentKey.values)}")
    now = timezone.now()
    if ends_at is not None and ends_at <= now:
        raise PromptInputError("ends_at", "must be in the future")
    with transaction.atomic():
        Prompt.objects.select_for_update().filter(id=prompt.id).first()
        if running_experiment(prompt, label) is not None:
            raise PromptInputError("label", f"an experiment already runs on {prompt.name}@{label}; stop it first")
        experiment = PromptExperiment.objects.create(
            organization_id=prompt.organization_id, prompt=prompt, name=(name or "").strip()[:200], label=label,
            arm_a=arm_a, arm_b=arm_b, split_b=split_b, assignment_key=assignment_key, started_at=now,
            ends_at=ends_at, created_by=_user(actor),
        )
        audit.record(prompt.organization_id, "prompt.experiment_start", actor=actor, target=experiment)
    _invalidate_on_commit(prompt)
    return experiment


def stop_experiment(experiment: PromptExperiment, *, actor=None) -> PromptExperiment:
    if experiment.stopped_at is None:
        experiment.stopped_at = experiment.ended_at or timezone.now()
        experiment.save(update_fields=["stopped_at"])
        audit.record(experiment.organization_id, "prompt.experiment_stop", actor=actor, target=experiment)
        _invalidate_on_commit(experiment.prompt)
    return experiment


def _user(actor):
    return actor if getattr(actor, "is_authenticated", False) and hasattr(actor, "get_username") else None


def _invalidate_on_commit(prompt: Prompt) -> None:
    org_id, name = str(prompt.organization_id), prompt.name
    transaction.on_commit(lambda: prompt_resolve.invalidate(org_id, name))

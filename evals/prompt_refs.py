"""Version ids on request rows → `name@version` and the prompt page, for the request views.

Ids of versions that exist read `name@3`. Rows logged with `name@label` for a
prompt or label that did not exist yet carry the uuid5 of that text; those read
`name@label` too, so no row shows a bare hash when its prompt is known.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from urllib.parse import quote

from proxy.logentry import prompt_version_uuid


# Labels an app may name before anyone has created them on the prompt.
COMMON_LABELS = frozenset({"latest", "production", "staging"})


@dataclass(frozen=True)
class PromptRef:
    name: str
    ref: str  # "3", "production", "latest"
    version: int | None

    @property
    def text(self) -> str:
        return f"{self.name}@{self.ref}"

    @property
    def url(self) -> str:
        base = f"/prompts/{quote(self.name, safe='')}/"
        return f"{base}?version={self.version}" if self.version is not None else base


def label_ids(prompt) -> list[str]:
    """The ids rows carry when they named this prompt by a label it had not got yet."""
    from evals.models import PromptLabelMove

    labels = set(PromptLabelMove.objects.filter(prompt=prompt).values_list("label", flat=True)) | COMMON_LABELS
    return [prompt_version_uuid(f"{prompt.name}@{label}", str(prompt.organization_id)) for label in sorted(labels)]


def describe(organization_id, ids) -> dict[str, PromptRef]:
    from evals.models import Prompt, PromptLabelMove, PromptVersion

    wanted = set()
    for value in ids:
        try:
            wanted.add(str(uuid.UUID(str(value))))
        except (ValueError, TypeError):
            continue
    if not wanted:
        return {}
    found: dict[str, PromptRef] = {}
    versions = PromptVersion.objects.filter(organization_id=organization_id, id__in=wanted).values_list(
        "id", "prompt__name", "version"
    )
    for version_id, name, number in versions:
        found[str(version_id)] = PromptRef(name, str(number), number)
    missing = wanted - set(found)
    if missing:
        names = list(Prompt.objects.filter(organization_id=organization_id).values_list("id", "name"))
        labels: dict = {}
        for prompt_id, label in PromptLabelMove.objects.filter(organization_id=organization_id).values_list(
            "prompt_id", "label"
        ).distinct():
            labels.setdefault(prompt_id, set()).add(label)
        for prompt_id, name in names:
            for label in labels.get(prompt_id, set()) | COMMON_LABELS:
                legacy = prompt_version_uuid(f"{name}@{label}", str(organization_id))
                if legacy in missing:
                    found[legacy] = PromptRef(name, label, None)
    return found

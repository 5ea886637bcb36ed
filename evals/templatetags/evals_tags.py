"""Formatting for eval pages: scores, sample inputs, run status badges."""
from __future__ import annotations

import json

from django import template

from evals import judge

register = template.Library()


@register.filter
def score(value) -> str:
    return "—" if value is None else f"{float(value):.2f}"


@register.filter
def sample_input(value) -> str:
    """A sample's input as readable text (the conversation or the variables)."""
    return judge.render_input(value)


@register.filter
def as_json(value) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2) if value not in (None, "", {}) else ""


@register.filter
def compact_json(value) -> str:
    return json.dumps(value, ensure_ascii=False) if value not in (None, "", {}) else ""


@register.filter
def run_badge(status: str) -> str:
    return {"completed": "badge-ok", "running": "badge-accent", "pending": "badge-muted",
            "interrupted": "badge-warn", "failed": "badge-err", "scored": "badge-ok",
            "parse_error": "badge-warn", "error": "badge-err"}.get(status, "badge-muted")


@register.filter
def get(mapping, key):
    return (mapping or {}).get(key)


@register.simple_tag(takes_context=True)
def org_datasets(context):
    """The current organization's datasets, for "Add to dataset" on pages of other apps."""
    from evals.models import Dataset
    from spanlens.core.access import current_access

    access = current_access(context["request"])
    if access is None:
        return []
    return list(Dataset.objects.filter(organization=access.organization).order_by("name").values("id", "name"))

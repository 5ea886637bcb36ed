"""Helpers for the trace pages: JSON, query strings, sort links (numbers: the `spanlens` library)."""
from __future__ import annotations

import json

from django import template

register = template.Library()


@register.filter
def pretty_json(value):
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


@register.simple_tag
def with_query(query, **changes):
    """The current query string with some parameters replaced (empty value removes one)."""
    params = query.copy()
    for key, value in changes.items():
        if value in (None, ""):
            params.pop(key, None)
        else:
            params[key] = value
    encoded = params.urlencode()
    return f"?{encoded}" if encoded else "?"


@register.simple_tag
def sort_link(query, column):
    """Link for a sortable header: first click sorts descending, the next ascending."""
    current = query.get("sort", "-started_at")
    target = column if current == f"-{column}" else f"-{column}"
    params = query.copy()
    params["sort"] = target
    params.pop("page", None)
    return f"?{params.urlencode()}"


@register.simple_tag
def sort_mark(query, column):
    current = query.get("sort", "-started_at")
    if current == f"-{column}":
        return "↓"
    if current == column:
        return "↑"
    return ""

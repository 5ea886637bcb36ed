"""Prompt templates on the page: variables highlighted, safely escaped."""
from __future__ import annotations

from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from spanlens.prompts import VARIABLE

register = template.Library()


@register.filter
def highlight_vars(text) -> SafeString:
    """Escape the text, then mark each {{variable}} (the braces survive escaping unchanged)."""
    escaped = escape(text or "")
    return mark_safe(VARIABLE.sub(lambda m: f'<mark class="var" data-var="{m.group(1)}">{m.group(0)}</mark>', escaped))


@register.filter
def signed_pct(value) -> str:
    if value is None:
        return "—"
    return f"{float(value) * 100:+.1f}%"


@register.filter
def pvalue(value) -> str:
    if value is None:
        return "—"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


@register.filter
def make_pair(first, second) -> list:
    return [first, second]

"""The dashboard's template library: every number through spanlens.core.formatting, plus ages,
timestamps and status badges."""
from __future__ import annotations

from datetime import datetime, timezone

from django import template

from dashboard.filters import URL_ONLY
from spanlens.core import formatting

register = template.Library()


@register.filter
def age(value: datetime | None) -> str:
    if value is None:
        return ""
    seconds = max((datetime.now(timezone.utc) - value).total_seconds(), 0)
    for size, unit in ((86400, "d"), (3600, "h"), (60, "m")):
        if seconds >= size:
            return f"{int(seconds // size)}{unit} ago"
    return f"{int(seconds)}s ago"


@register.filter
def fulltime(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.") + f"{value.microsecond // 1000:03d} UTC"


@register.filter
def ms(value) -> str:
    return formatting.duration_ms(value)


@register.filter
def duration(value) -> str:
    return formatting.duration_ms(value)


@register.filter
def usd(value) -> str:
    return formatting.usd(value)


@register.filter
def usd_signed(value) -> str:
    return formatting.usd_signed(value)


@register.filter
def count(value) -> str:
    return formatting.count(value)


@register.filter
def row_cost(row) -> str:
    """A row's cost as its source allows: "unpriced" (never $0) or "~$…" when estimated."""
    source = row.get("cost_source")
    if source == "unknown" or (row.get("cost_usd") is None and source != "estimated"):
        return "unpriced" if source == "unknown" else "—"
    text = usd(row.get("cost_usd"))
    return f"~{text}" if source == "estimated" else text


@register.filter
def row_status_class(row) -> str:
    """The status badge of a row: a 200 whose stream carried an error is an error."""
    code = int(row.get("status_code") or 0)
    if 200 <= code < 300 and row.get("error_message"):
        return "badge-err"
    return status_class(code)


@register.filter
def tokens(value) -> str:
    return formatting.tokens(value)


@register.filter
def pct(value) -> str:
    return formatting.pct(value)


@register.filter
def status_class(code) -> str:
    code = int(code or 0)
    if 200 <= code < 300:
        return "badge-ok"
    if 400 <= code < 500:
        return "badge-warn"
    return "badge-err"


@register.simple_tag
def sort_link(filters, column: str, label: str) -> dict:
    """The header link for a sortable column: first click sorts desc, the next asc."""
    active = filters.sortBy == column
    direction = "asc" if active and filters.sortDir == "desc" else "desc"
    arrow = ("↓" if filters.sortDir == "desc" else "↑") if active else ""
    return {"qs": filters.querystring(sortBy=column, sortDir=direction, page=1), "label": label,
            "arrow": arrow, "active": active}


@register.filter
def pct0(value) -> str:
    return f"{float(value or 0) * 100:.0f}%"


@register.filter
def per(value, divisor):
    """value / divisor, or 0 when there is nothing to divide by."""
    divisor = float(divisor or 0)
    return float(value or 0) / divisor if divisor else 0.0


@register.filter
def share(value, whole) -> str:
    """value as a percentage of whole, clipped to 0–100 (widths of bars)."""
    whole = float(whole or 0)
    return f"{min(max(float(value or 0) / whole * 100, 0.0), 100.0):.1f}" if whole else "0"


@register.filter
def usd_delta(value) -> str:
    """A signed amount of money: +$0.12 or −$0.12."""
    value = float(value or 0)
    return ("−" if value < 0 else "+") + usd(abs(value))


@register.filter
def seconds(value) -> str:
    """An offset in seconds since a start: 0.0s, 12.4s, 3m 02s."""
    value = float(value or 0)
    if value < 60:
        return f"{value:.1f}s"
    return duration(value * 1000)


@register.filter
def split(value: str) -> list[str]:
    return value.split()


@register.filter
def get(mapping, key):
    return mapping.get(key) if hasattr(mapping, "get") else None


@register.simple_tag
def without_filter(filters, name: str) -> str:
    """The list's query string with one filter dropped and the others kept; "banner" drops
    every drill-down filter of the banner."""
    if name == "banner":
        return filters.querystring_without(*(n for n, _ in URL_ONLY))
    return filters.querystring_without(name)

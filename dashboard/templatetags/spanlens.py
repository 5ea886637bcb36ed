"""Formatting for the dashboard: ages, durations, money, token counts, status badges."""
from __future__ import annotations

from datetime import datetime, timezone

from django import template

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
    if value is None:
        return "—"
    value = float(value)
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.0f} ms"


@register.filter
def usd(value) -> str:
    if value is None:
        return "—"
    value = float(value)
    if value == 0:
        return "$0.00"
    if value >= 1:
        return f"${value:,.2f}"
    # Most calls cost fractions of a cent: keep four significant-looking decimals.
    return f"${value:.4f}" if value >= 0.0001 else f"${value:.6f}"


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
    if value is None:
        return "—"
    value = int(value)
    if value >= 1_000_000:
        return f"{value / 1_000_000:.1f}M"
    if value >= 10_000:
        return f"{value / 1000:.1f}k"
    return f"{value:,}"


@register.filter
def pct(value) -> str:
    return f"{float(value or 0) * 100:.1f}%"


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
def duration(value_ms) -> str:
    """A span of time from milliseconds: 850 ms, 12 s, 4m 05s, 2h 10m."""
    value = int(value_ms or 0)
    if value < 1000:
        return f"{value} ms"
    seconds = value // 1000
    if seconds < 60:
        return f"{value / 1000:.1f} s" if seconds < 10 else f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"


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

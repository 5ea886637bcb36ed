from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def usd_signed(value) -> str:
    """A cost difference: "−$12.40" saved, "+$3.10" more."""
    if value is None:
        return "—"
    value = float(value)
    sign = "+" if value > 0 else "−" if value < 0 else ""
    size = abs(value)
    text = f"${size:,.2f}" if size >= 1 or size == 0 else f"${size:.4f}" if size >= 0.0001 else f"${size:.6f}"
    return sign + text

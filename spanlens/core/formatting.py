"""How numbers read on every page: token counts, money, durations, plain counts.

Pages reach these through the `spanlens` template library; Python code that
writes labels (chart tooltips, waterfall ticks) calls them directly, so a
figure reads the same wherever it appears.
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

EMPTY = "—"
# The request log stores cost as Decimal64(8): nothing is finer than this.
MONEY_MAX_DECIMALS = 8
MONEY_SIGNIFICANT = 3


def _number(value) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError, InvalidOperation):
        return None


def count(value) -> str:
    """A whole number with thousands separators: 1,500."""
    number = _number(value)
    return EMPTY if number is None else f"{round(number):,}"


def tokens(value) -> str:
    """Token counts: exact below ten thousand (1,500), then 12.3k and 4.6M."""
    number = _number(value)
    if number is None:
        return EMPTY
    size = abs(number)
    if size >= 1_000_000:
        return f"{number / 1_000_000:.1f}M"
    if size >= 10_000:
        return f"{number / 1000:.1f}k"
    return f"{round(number):,}"


def usd(value) -> str:
    """Money: cents from a dollar up ($1,234.56); below it three significant digits,
    so a call costing $0.000285 does not read as $0.0003 or $0.00."""
    number = _number(value)
    if number is None:
        return EMPTY
    sign = "-" if number < 0 else ""
    return sign + _usd_magnitude(abs(number))


def usd_signed(value) -> str:
    """A cost difference: "−$12.40" saved, "+$3.10" more."""
    number = _number(value)
    if number is None:
        return EMPTY
    sign = "+" if number > 0 else "−" if number < 0 else ""
    return sign + _usd_magnitude(abs(number))


def _usd_magnitude(size: float) -> str:
    if size == 0:
        return "$0.00"
    if size >= 1:
        return f"${size:,.2f}"
    smallest = Decimal(1).scaleb(-MONEY_MAX_DECIMALS)
    if size < float(smallest):
        return f"<${smallest:f}"
    # Decimals needed to show MONEY_SIGNIFICANT digits after the leading zeros.
    leading_zeros = -Decimal(repr(size)).adjusted() - 1
    decimals = min(max(leading_zeros + MONEY_SIGNIFICANT, 2), MONEY_MAX_DECIMALS)
    text = f"{size:.{decimals}f}"
    if "." in text:
        whole, frac = text.split(".")
        frac = frac.rstrip("0").ljust(2, "0")
        text = f"{whole}.{frac}"
    return f"${text}"


def duration_ms(value) -> str:
    """A duration given in milliseconds: 850 ms, 1.25 s, 2m 05s, 1h 02m."""
    number = _number(value)
    if number is None:
        return EMPTY
    if number < 0:
        number = 0.0
    if number < 10:
        return f"{number:.1f} ms" if number and number != int(number) else f"{number:.0f} ms"
    if number < 1000:
        return f"{number:.0f} ms"
    if number < 60_000:
        return f"{number / 1000:.2f} s"
    seconds = int(round(number / 1000))
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"


def pct(value) -> str:
    """A ratio (0.125) as a percentage: 12.5%."""
    number = _number(value)
    return f"{(number or 0) * 100:.1f}%"

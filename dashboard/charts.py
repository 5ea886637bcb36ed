"""Small charts as inline SVG, rendered on the server: no chart library to ship."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

from spanlens.core import formatting


def spark(values: list[float], *, width: int = 120, height: int = 30, label: str = "") -> SafeString:
    """A line with a soft area under it; stretches to its container."""
    if not values:
        values = [0.0]
    if len(values) == 1:
        values = values * 2
    top = max(values) or 1.0
    step = width / (len(values) - 1)
    points = [(i * step, height - 2 - (v / top) * (height - 4)) for i, v in enumerate(values)]
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    area = f"0,{height} {line} {width},{height}"
    return format_html(
        '<svg class="stat-spark" viewBox="0 0 {w} {h}" preserveAspectRatio="none" role="img" aria-label="{label}">'
        '<polygon points="{area}" fill="currentColor" opacity="0.12"/>'
        '<polyline points="{line}" fill="none" stroke="currentColor" stroke-width="1.5" '
        'vector-effect="non-scaling-stroke" stroke-linejoin="round"/></svg>',
        w=width, h=height, label=label, area=area, line=line,
    )


def hourly_series(hours: list[dict], key: str, *, now: datetime | None = None) -> list[float]:
    """24 points, one per hour ending now; hours without traffic count as 0."""
    now = (now or datetime.now(timezone.utc)).replace(minute=0, second=0, microsecond=0, tzinfo=None)
    by_hour = {str(h["hour"])[:13]: float(h[key] or 0) for h in hours}
    slots = [now - timedelta(hours=23 - i) for i in range(24)]
    return [by_hour.get(s.strftime("%Y-%m-%d %H"), 0.0) for s in slots]


def daily_bars(days: list[dict], *, count: int = 30, today: date | None = None) -> SafeString:
    """One bar per day; a day with any error is drawn in the error colour. <title> gives the tooltip."""
    today = today or datetime.now(timezone.utc).date()
    by_day = {d["day"]: (int(d["requests"]), int(d["errors"])) for d in days}
    slots = [today - timedelta(days=count - 1 - i) for i in range(count)]
    top = max((by_day.get(s.isoformat(), (0, 0))[0] for s in slots), default=0) or 1
    width, height, gap = count * 10, 60, 2
    bars = []
    for i, day in enumerate(slots):
        requests, errors = by_day.get(day.isoformat(), (0, 0))
        h = max((requests / top) * (height - 2), 1.5 if requests else 0.75)
        label = f"{day.strftime('%a %b %-d')}: {formatting.count(requests)} requests" + (
            f", {formatting.count(errors)} errors" if errors else "")
        bars.append(
            f'<rect class="bar{" err" if errors else ""}" x="{i * 10 + gap / 2:.1f}" y="{height - h:.1f}" '
            f'width="{10 - gap}" height="{h:.1f}" rx="1.5" data-day="{day.isoformat()}">'
            f"<title>{escape(label)}</title></rect>"
        )
    return mark_safe(
        f'<svg viewBox="0 0 {width} {height}" preserveAspectRatio="none" role="img" '
        f'aria-label="Requests per day, last {count} days">{"".join(bars)}</svg>'
    )


def stacked_bars(buckets: list[datetime], series: dict[str, list[int]], *, labels: list[str],
                 aria: str) -> SafeString:
    """One bar per bucket, stacked by series (drawn in order, bottom first); <title> gives the tooltip."""
    count = max(len(buckets), 1)
    width, height, gap = count * 10, 100, 2
    totals = [sum(values[i] for values in series.values()) for i in range(len(buckets))]
    top = max(totals, default=0) or 1
    bars = []
    for i, _ in enumerate(buckets):
        y = float(height)
        for name, values in series.items():
            if not values[i]:
                continue
            h = max(values[i] / top * (height - 2), 1.5)
            y -= h
            bars.append(f'<rect class="bar-{escape(name)}" x="{i * 10 + gap / 2:.1f}" y="{y:.1f}" '
                        f'width="{10 - gap}" height="{h:.1f}" rx="1"><title>{escape(labels[i])}</title></rect>')
        if not totals[i]:
            bars.append(f'<rect class="bar-empty" x="{i * 10 + gap / 2:.1f}" y="{height - 0.75}" width="{10 - gap}" '
                        f'height="0.75" fill="#d0d5dd"><title>{escape(labels[i])}</title></rect>')
    return mark_safe(f'<svg viewBox="0 0 {width} {height}" preserveAspectRatio="none" role="img" '
                     f'aria-label="{escape(aria)}">{"".join(bars)}</svg>')

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
    # Days whose rows include sampled calls: their counts are estimates.
    estimated = {d["day"] for d in days if int(d.get("sampled_rows") or 0)}
    slots = [today - timedelta(days=count - 1 - i) for i in range(count)]
    top = max((by_day.get(s.isoformat(), (0, 0))[0] for s in slots), default=0) or 1
    width, height, gap = count * 10, 60, 2
    bars = []
    for i, day in enumerate(slots):
        requests, errors = by_day.get(day.isoformat(), (0, 0))
        h = max((requests / top) * (height - 2), 1.5 if requests else 0.75)
        approx = "≈" if day.isoformat() in estimated else ""
        label = (f"{day.strftime('%a %b %-d')}: {approx}{formatting.count(requests)} requests"
                 + (f", {formatting.count(errors)} errors" if errors else "")
                 + (" (sampled calls scaled up)" if approx else ""))
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


def band_chart(points: list[dict], *, labels: list[str], fmt, aria: str, width: int = 960,
               height: int = 170) -> SafeString:
    """Hourly values as a line over the band their baseline allowed (shaded) and the expected
    value (dashed); the last point, the window, is drawn larger. <title> on each point gives
    the tooltip. points: [{"value", "expected", "low", "high"}], oldest first."""
    if not points:
        return mark_safe("")
    pad_l, pad_r, pad_t, pad_b = 64, 10, 10, 20
    numbers = [v for p in points for v in (p.get("value"), p.get("high")) if v is not None]
    top = max(numbers, default=0.0) * 1.08 or 1.0
    inner_w, inner_h = width - pad_l - pad_r, height - pad_t - pad_b
    step = inner_w / max(len(points) - 1, 1)

    def x(i: int) -> float:
        return pad_l + i * step

    def y(v: float) -> float:
        return pad_t + inner_h - (v / top) * inner_h

    parts = [f'<line class="axis" x1="{pad_l}" y1="{pad_t + inner_h}" x2="{width - pad_r}" y2="{pad_t + inner_h}"/>']
    for frac in (0.0, 0.5, 1.0):
        value = top * frac
        parts.append(f'<text class="tick" x="{pad_l - 6}" y="{y(value) + 3:.1f}" text-anchor="end">'
                     f'{escape(fmt(value))}</text>')
        if frac:
            parts.append(f'<line class="grid-line" x1="{pad_l}" y1="{y(value):.1f}" x2="{width - pad_r}" '
                         f'y2="{y(value):.1f}"/>')
    banded = [(i, p) for i, p in enumerate(points) if p.get("low") is not None and p.get("high") is not None]
    if banded:
        upper = " ".join(f"{x(i):.1f},{y(p['high']):.1f}" for i, p in banded)
        lower = " ".join(f"{x(i):.1f},{y(p['low']):.1f}" for i, p in reversed(banded))
        parts.append(f'<polygon class="band" points="{upper} {lower}"/>')
        expected = " ".join(f"{x(i):.1f},{y(p['expected']):.1f}" for i, p in banded)
        parts.append(f'<polyline class="expected" points="{expected}"/>')
    line = " ".join(f"{x(i):.1f},{y(p['value']):.1f}" for i, p in enumerate(points) if p.get("value") is not None)
    parts.append(f'<polyline class="value" points="{line}"/>')
    for i, p in enumerate(points):
        if p.get("value") is None:
            continue
        outside = p.get("high") is not None and (p["value"] > p["high"] or p["value"] < p["low"])
        last = i == len(points) - 1
        tip = f"{labels[i]}: {fmt(p['value'])}"
        if p.get("expected") is not None:
            tip += f" (expected {fmt(p['expected'])}, band {fmt(p['low'])} – {fmt(p['high'])})"
        parts.append(f'<circle class="pt{" out" if outside else ""}{" last" if last else ""}" cx="{x(i):.1f}" '
                     f'cy="{y(p["value"]):.1f}" r="{4.5 if last else 2.5}"><title>{escape(tip)}</title></circle>')
    for i in (0, len(points) // 2, len(points) - 1):
        anchor = "start" if i == 0 else ("end" if i == len(points) - 1 else "middle")
        parts.append(f'<text class="tick" x="{x(i):.1f}" y="{height - 4}" text-anchor="{anchor}">'
                     f'{escape(labels[i].split(" · ")[0])}</text>')
    return mark_safe(f'<svg class="band-chart" viewBox="0 0 {width} {height}" role="img" '
                     f'aria-label="{escape(aria)}">{"".join(parts)}</svg>')


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 × 10^k at or above value (a readable axis top)."""
    if value <= 0:
        return 1.0
    import math

    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power + 1e-12:
            return step * power
    return 10 * power


def stacked_chart(buckets: list[tuple[str, str]], series: list[dict], *, value_format, aria: str,
                  height: int = 180) -> SafeString:
    """Stacked bars with a y axis, one column per bucket; buckets = [(tooltip label, axis label)],
    series = [{"label", "css", "values"}], bottom first.

    Each column carries its whole breakdown in data-tip (the page's tooltip) and <title>
    (without JavaScript), so hovering any part of a column reads every series of it."""
    count = max(len(buckets), 1)
    left, bottom, top_pad, width = 64, 20, 6, 720
    plot_w, plot_h = width - left - 4, height - bottom - top_pad
    totals = [sum(s["values"][i] for s in series) for i in range(len(buckets))]
    top = nice_ceiling(max(totals, default=0))
    step = plot_w / count
    bar_w = max(step * 0.72, 1.0)
    parts = []
    for frac in (0, 0.5, 1):
        y = top_pad + plot_h * (1 - frac)
        parts.append(f'<line class="grid-line" x1="{left}" x2="{width - 4}" y1="{y:.1f}" y2="{y:.1f}"/>'
                     f'<text class="axis" x="{left - 8}" y="{y + 4:.1f}" text-anchor="end">'
                     f"{escape(value_format(top * frac))}</text>")
    label_every = max(1, count // 6)
    for i, (bucket, axis_label) in enumerate(buckets):
        x = left + i * step + (step - bar_w) / 2
        lines = [f"{s['label']}: {value_format(s['values'][i])}" for s in reversed(series) if s["values"][i]]
        tip = f"{bucket} · total {value_format(totals[i])}" + ("\n" + "\n".join(lines) if lines else "")
        rects, y = [], float(top_pad + plot_h)
        for s in series:
            v = s["values"][i]
            if not v:
                continue
            h = max(v / top * plot_h, 0.8)
            y -= h
            rects.append(f'<rect class="{escape(s["css"])}" x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}"/>')
        parts.append(
            f'<g class="col" data-tip="{escape(tip)}"><title>{escape(tip)}</title>'
            f'<rect class="hit" x="{left + i * step:.1f}" y="{top_pad}" width="{step:.1f}" height="{plot_h}"/>'
            f'{"".join(rects)}</g>'
        )
        if i % label_every == 0:
            parts.append(f'<text class="axis" x="{x + bar_w / 2:.1f}" y="{height - 5}" text-anchor="middle">'
                         f"{escape(axis_label)}</text>")
    return mark_safe(f'<svg class="stack-chart" viewBox="0 0 {width} {height}" role="img" '
                     f'aria-label="{escape(aria)}">{"".join(parts)}</svg>')

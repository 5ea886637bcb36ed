"""Lays spans out on one shared time axis: rows in tree order, each with depth and
left/width percentages, so the page draws the waterfall with plain CSS."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from spanlens.core import formatting
from spanlens.traces.models import Span, Trace

MIN_WIDTH_PCT = 0.4  # a 0 ms span still shows as a sliver you can click


@dataclass
class Row:
    span: Span
    depth: int
    left_pct: float
    width_pct: float
    offset_ms: int
    orphan: bool  # its parent never arrived

    @property
    def label_place(self) -> str:
        """Where the duration label goes: after the bar, or (near the right edge) inside or before it."""
        if self.left_pct + self.width_pct <= 78:
            return "after"
        return "inside" if self.width_pct >= 20 else "before"

    @property
    def label_style(self) -> str:
        if self.label_place == "after":
            return f"left:{self.left_pct + self.width_pct:.3f}%"
        if self.label_place == "inside":
            return f"right:{100 - self.left_pct - self.width_pct:.3f}%"
        return f"right:{100 - self.left_pct:.3f}%"


@dataclass
class Tick:
    left_pct: float
    label: str


@dataclass
class Waterfall:
    rows: list[Row]
    ticks: list[Tick]
    total_ms: int

    @property
    def error_count(self) -> int:
        return sum(1 for row in self.rows if row.span.status == "error")


def build(trace: Trace, spans: list[Span], now: datetime | None = None) -> Waterfall:
    now = now or timezone.now()
    starts = [trace.started_at, *(s.started_at for s in spans)]
    ends = [t for t in (trace.ended_at, *(s.ended_at for s in spans)) if t is not None]
    origin = min(starts)
    # A running trace is drawn up to now, so open spans grow as it runs.
    finish = max(ends) if ends and trace.status != Trace.Status.RUNNING else max([*ends, now])
    total = max(finish - origin, timedelta(milliseconds=1))

    def pct(delta: timedelta) -> float:
        return round(delta / total * 100, 3)

    by_id = {s.id: s for s in spans}
    children: dict[object, list[Span]] = {}
    roots: list[Span] = []
    for span in spans:
        if span.parent_span_id and span.parent_span_id in by_id:
            children.setdefault(span.parent_span_id, []).append(span)
        else:
            roots.append(span)

    rows: list[Row] = []
    seen: set = set()

    def visit(span: Span, depth: int) -> None:
        if span.id in seen:  # ids are client-chosen: guard against a cycle
            return
        seen.add(span.id)
        end = span.ended_at or finish
        left = pct(span.started_at - origin)
        width = max(pct(end - span.started_at), MIN_WIDTH_PCT)
        rows.append(
            Row(
                span=span,
                depth=depth,
                left_pct=min(left, 100 - MIN_WIDTH_PCT),
                width_pct=min(width, 100 - min(left, 100 - MIN_WIDTH_PCT)),
                offset_ms=int((span.started_at - origin) / timedelta(milliseconds=1)),
                orphan=bool(span.parent_span_id) and span.parent_span_id not in by_id,
            )
        )
        for child in sorted(children.get(span.id, []), key=lambda s: (s.started_at, s.name, str(s.id))):
            visit(child, depth + 1)

    in_order = sorted(spans, key=lambda s: (s.started_at, s.name, str(s.id)))
    root_ids = {s.id for s in roots}
    for root in (s for s in in_order if s.id in root_ids):
        visit(root, 0)
    # Spans whose parents form a cycle have no root above them; show them anyway.
    for span in in_order:
        visit(span, 0)
    total_ms = int(total / timedelta(milliseconds=1))
    ticks = [Tick(left_pct=p, label=formatting.duration_ms(total_ms * p / 100)) for p in (0, 25, 50, 75, 100)]
    return Waterfall(rows=rows, ticks=ticks, total_ms=total_ms)

"""The windows budgets count in: the UTC minute, day and month a moment falls in."""
from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

# metric -> (period id, starts at, ends at) of the window last asked for: a window lasts
# a minute at least, so the hot path recomputes calendar maths once per window, not per call.
_memo: dict[str, tuple[str, float, float]] = {}


def window(metric: str, now: float) -> tuple[str, float, float]:
    """(period id, start, end) in epoch seconds of the window holding `now`."""
    hit = _memo.get(metric)
    if hit is not None and hit[1] <= now < hit[2]:
        return hit
    if metric == "rpm":
        minute = int(now // 60)
        found = (f"r{minute}", minute * 60.0, minute * 60.0 + 60.0)
    else:
        moment = datetime.fromtimestamp(now, timezone.utc)
        day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        if metric == "usd_day":
            start, end, name = day, day + timedelta(days=1), f"d{day:%Y%m%d}"
        else:
            start = day.replace(day=1)
            end = (start + timedelta(days=32)).replace(day=1)
            name = f"m{start:%Y%m}"
        found = (name, start.timestamp(), end.timestamp())
    _memo[metric] = found
    return found


def retry_after(end: float, now: float) -> int:
    """Whole seconds until the window ends (at least 1), for Retry-After."""
    return max(1, math.ceil(end - now))


def when(end: float, now: float) -> str:
    """The window's end as people read it: "in 12 s", "at 00:00 UTC (in 3 h 5 min)"."""
    seconds = retry_after(end, now)
    if seconds < 120:
        return f"in {seconds} s"
    hours, minutes = divmod(seconds // 60, 60)
    days, hours = divmod(hours, 24)
    if days:
        span = f"{days} day{'s' if days > 1 else ''} {hours} h"
    else:
        span = f"{hours} h {minutes} min" if hours else f"{minutes} min"
    moment = datetime.fromtimestamp(end, timezone.utc)
    day = "" if seconds < 86400 else f"{moment:%b} {moment.day} "
    return f"at {day}{moment:%H:%M} UTC (in {span})"

"""The home page's figures: usage over a range stacked by a dimension, top spenders, forecast."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from dashboard import charts
from spanlens.core.access import Access
from spanlens.core.models import Project
from spanlens.home import forecast as forecast_mod
from spanlens.requestlog import overview


@dataclass(frozen=True)
class Range:
    key: str
    label: str
    span: timedelta
    bucket: timedelta


RANGES = {
    "24h": Range("24h", "24 h", timedelta(hours=24), timedelta(hours=1)),
    "7d": Range("7d", "7 d", timedelta(days=7), timedelta(hours=6)),
    "30d": Range("30d", "30 d", timedelta(days=30), timedelta(days=1)),
}
DIMENSIONS = {"model": "Model", "provider": "Provider", "project": "Project", "user": "User"}
SERIES_TOP = 6


def buckets_for(r: Range, now: datetime) -> list[datetime]:
    """The bucket starts of a range, oldest first, the last one holding now (UTC, epoch-aligned
    as ClickHouse's toStartOfInterval aligns them)."""
    step = int(r.bucket.total_seconds())
    last = datetime.fromtimestamp(int(now.timestamp()) // step * step, tz=timezone.utc)
    count = int(r.span / r.bucket)
    return [last - r.bucket * (count - 1 - i) for i in range(count)]


def _bucket_labels(r: Range, starts: list[datetime]) -> list[tuple[str, str]]:
    if r.bucket >= timedelta(days=1):
        return [(s.strftime("%a %b %-d"), s.strftime("%b %-d")) for s in starts]
    if r.span > timedelta(days=1):
        return [(f"{s:%a %b %-d} · {s:%H:%M}–{s + r.bucket:%H:%M} UTC", s.strftime("%a %-d")) for s in starts]
    return [(f"{s:%a %b %-d} · {s:%H:%M} UTC", s.strftime("%H:%M")) for s in starts]


def _series_label(dimension: str, key: str, project_names: dict[str, str]) -> str:
    if key == overview.OTHER:
        return "Other"
    if dimension == "project":
        return project_names.get(key, "Unknown project")
    if dimension == "user" and not key:
        return "(no user)"
    return key or "(none)"


def usage_context(access: Access, *, range_key: str, dimension: str, project_id: str | None,
                  now: datetime | None = None) -> dict:
    """Both stacked charts (requests and spend), their legend and the range's totals."""
    now = now or datetime.now(timezone.utc)
    r = RANGES[range_key]
    starts = buckets_for(r, now)
    org_id = str(access.organization.id)
    rows = overview.list_usage_series(
        organization_id=org_id, retention_days=access.retention_days, project_id=project_id,
        since=starts[0], bucket_seconds=int(r.bucket.total_seconds()), dimension=dimension, top=SERIES_TOP,
    )
    index = {s.strftime("%Y-%m-%d %H:%M"): i for i, s in enumerate(starts)}
    by_key: dict[str, dict] = {}
    sampled = False
    for row in rows:
        i = index.get(str(row["bucket"])[:16])
        if i is None:
            continue
        entry = by_key.setdefault(row["series"], {"requests": [0.0] * len(starts), "spend": [0.0] * len(starts)})
        entry["requests"][i] += float(row["requests"] or 0)
        entry["spend"][i] += float(row["spend_usd"] or 0)
        sampled = sampled or int(row["sampled_rows"] or 0) > 0
    project_names = {str(p.id): p.name for p in Project.objects.filter(organization=access.organization)}
    # Largest at the bottom of each column; "Other" always on top.
    keys = sorted(by_key, key=lambda k: (k == overview.OTHER, -sum(by_key[k]["spend"]), -sum(by_key[k]["requests"]), k))
    legend, request_series, spend_series = [], [], []
    for n, key in enumerate(keys):
        css = "s-other" if key == overview.OTHER else f"s{n % SERIES_TOP}"
        label = _series_label(dimension, key, project_names)
        data = by_key[key]
        legend.append({"label": label, "css": css, "requests": round(sum(data["requests"])),
                       "spend_usd": sum(data["spend"]), "key": key})
        request_series.append({"label": label, "css": css, "values": [round(v) for v in data["requests"]]})
        spend_series.append({"label": label, "css": css, "values": data["spend"]})
    labels = _bucket_labels(r, starts)
    prefix = "≈" if sampled else ""
    totals = overview.get_usage_totals(organization_id=org_id, retention_days=access.retention_days,
                                       project_id=project_id, since=starts[0])
    return {
        "range": r, "ranges": RANGES.values(), "dimension": dimension, "dimensions": DIMENSIONS.items(),
        "legend": legend, "sampled": sampled or totals["sampled_rows"] > 0, "totals": totals,
        "requests_chart": charts.stacked_chart(labels, request_series, aria=f"Requests per bucket by {dimension}",
                                               value_format=lambda v: f"{prefix}{round(v):,}"),
        "spend_chart": charts.stacked_chart(labels, spend_series, aria=f"Spend per bucket by {dimension}",
                                            value_format=lambda v: prefix + _axis_usd(v)),
        "since": starts[0],
    }


def _axis_usd(value: float) -> str:
    """Money on an axis or in a tooltip: cents when they are enough, more digits for sub-cent amounts."""
    if value and value < 0.01:
        return f"${value:.4f}"
    return f"${value:,.2f}"


def forecast_context(access: Access, *, project_id: str | None, now: datetime | None = None) -> dict:
    now = now or datetime.now(timezone.utc)
    today = now.date()
    since_day = min(today.replace(day=1), today - timedelta(days=forecast_mod.HISTORY_DAYS))
    rows = overview.list_daily_spend(
        organization_id=str(access.organization.id), retention_days=access.retention_days, project_id=project_id,
        since=datetime.combine(since_day, datetime.min.time(), tzinfo=timezone.utc),
    )
    daily = {date.fromisoformat(r["day"]): float(r["spend_usd"] or 0) for r in rows}
    result = forecast_mod.month_forecast(daily, now=now)
    month_to_date = sum(v for d, v in daily.items() if d >= today.replace(day=1))
    return {"forecast": result, "month_to_date": month_to_date, "month_name": now.strftime("%B"),
            "forecast_sampled": any(int(r["sampled_rows"] or 0) for r in rows)}


def top_context(access: Access, *, since: datetime, project_id: str | None) -> dict:
    from evals.prompt_refs import describe

    org_id = str(access.organization.id)
    kwargs = {"organization_id": org_id, "retention_days": access.retention_days, "project_id": project_id,
              "since": since}
    users = overview.list_top_spenders(dimension="user", **kwargs)
    prompts = overview.list_top_spenders(dimension="prompt", **kwargs)
    refs = describe(org_id, [p["key"] for p in prompts])
    for p in prompts:
        ref = refs.get(p["key"])
        p["label"] = ref.text if ref else p["key"][:8]
        p["url"] = ref.url if ref else None
    return {"top_users": [_clean_top(u) for u in users], "top_prompts": [_clean_top(p) for p in prompts]}


def _clean_top(row: dict) -> dict:
    return {**row, "requests": round(float(row["requests"] or 0)), "spend_usd": float(row["spend_usd"] or 0),
            "total_tokens": round(float(row["total_tokens"] or 0)), "sampled": int(row["sampled_rows"] or 0) > 0}

"""/security: flagged calls over time, who and what sends them, and the newest ones."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from dashboard import charts
from dashboard import rows as rows_mod
from spanlens.core import access as access_mod
from spanlens.core.access import Access, org_required
from spanlens.core.models import Project
from spanlens.requestlog import queries
from spanlens.security.highlight import label

# Range -> (bucket length, number of buckets).
RANGES = {"1": (timedelta(hours=1), 24), "7": (timedelta(hours=6), 28), "30": (timedelta(days=1), 30)}
GROUPS = ("pii", "secret", "injection")


def _series(points: list[dict], bucket: timedelta, count: int, now: datetime):
    step = int(bucket.total_seconds())
    end = datetime.fromtimestamp((int(now.timestamp()) // step) * step, timezone.utc)
    slots = [end - bucket * (count - 1 - i) for i in range(count)]
    index = {slot.strftime("%Y-%m-%d %H:%M"): i for i, slot in enumerate(slots)}
    series = {g: [0] * count for g in GROUPS}
    per_slot: list[dict[str, int]] = [{} for _ in slots]
    by_type: dict[str, int] = {}
    for p in points:
        i = index.get(str(p["bucket"])[:16])
        kind, calls = p["type"], int(p["calls"])
        by_type[kind] = by_type.get(kind, 0) + calls
        group = kind.partition(".")[0]
        if i is None or group not in series:
            continue
        series[group][i] += calls
        per_slot[i][kind] = per_slot[i].get(kind, 0) + calls
    fmt = "%b %-d %H:%M" if bucket < timedelta(days=1) else "%a %b %-d"
    labels = [slot.strftime(fmt) + ": " + (", ".join(f"{label(k)} {n}" for k, n in sorted(kinds.items()))
                                          or "no flagged calls") for slot, kinds in zip(slots, per_slot)]
    return slots, series, labels, by_type


@org_required
def security_page(request: HttpRequest, access: Access) -> HttpResponse:
    days = request.GET.get("days", "7")
    if days not in RANGES:
        days = "7"
    bucket, count = RANGES[days]
    now = datetime.now(timezone.utc)
    since = now - bucket * count
    project = access_mod.current_project(request)
    scope = {"organization_id": access.organization.id, "retention_days": access.retention_days,
             "project_id": str(project.id) if project else None}
    points = queries.list_flag_counts_over_time(since=since, bucket_seconds=int(bucket.total_seconds()), **scope)
    slots, series, labels, by_type = _series(points, bucket, count, now)
    names = {str(p.id): p.name for p in Project.objects.filter(organization=access.organization)}
    tops = [{"dim": dim, "title": title, "singular": singular,
             "rows": queries.list_top_flagged(dimension=dim, since=since, **scope)}
            for dim, title, singular in (("project", "projects", "Project"), ("user", "users", "User"),
                                         ("model", "models", "Model"))]
    for row in tops[0]["rows"]:
        row["name"] = names.get(row["key"], row["key"])
    newest = queries.list_requests(flag="any", since=since, limit=10, **scope)
    flagged = rows_mod.with_key_names(access.organization.id, newest["rows"])
    for i, row in enumerate(flagged):
        row["pos"] = i
    return render(request, "dashboard/security.html", {
        "days": days,
        "ranges": (("1", "24 hours"), ("7", "7 days"), ("30", "30 days")),
        "chart": charts.stacked_bars(slots, series, labels=labels, aria="Flagged calls over time by type"),
        "group_totals": {g: sum(v) for g, v in series.items()},
        "by_type": sorted(((label(k), k, n) for k, n in by_type.items()), key=lambda t: -t[2]),
        "tops": tops,
        "flagged": flagged,
        "flagged_total": newest["total"],
        "since": since,
        "qs": "flag=any",
    })

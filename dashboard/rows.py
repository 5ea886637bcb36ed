"""Request-log rows as the dashboard and API present them (types fixed, key names added)."""
from __future__ import annotations

from datetime import datetime, timezone

import orjson

from spanlens.core.models import ProviderKey

INT_COLUMNS = (
    "prompt_tokens", "completion_tokens", "total_tokens", "cache_read_tokens", "cache_write_tokens",
    "latency_ms", "proxy_overhead_ms", "status_code",
)


def parse_ts(value) -> datetime | None:
    if not value:
        return None
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace(" ", "T")).replace(tzinfo=timezone.utc)


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def clean(row: dict) -> dict:
    """ClickHouse JSON quotes 64-bit numbers and returns text timestamps; fix both."""
    out = dict(row)
    for name in INT_COLUMNS:
        if name in out and out[name] is not None:
            out[name] = int(out[name])
    if out.get("cost_usd") is not None:
        out["cost_usd"] = float(out["cost_usd"])
    for name in ("stream", "truncated"):
        if name in out:
            out[name] = out[name] in (True, 1, "true", "1")
    for name in ("flags", "response_flags"):
        if isinstance(out.get(name), str):
            try:
                out[name] = orjson.loads(out[name])
            except orjson.JSONDecodeError:
                out[name] = []
    out["created_at"] = parse_ts(out.get("created_at"))
    if "flags" in out or "response_flags" in out:
        out["flag_badges"] = flag_badges(out.get("flags") or [], out.get("response_flags") or [])
    return out


FLAG_GROUP_LABELS = (("injection", "Injection", "badge-err"), ("pii", "PII", "badge-warn"),
                     ("secret", "Secret", "badge-err"))


def flag_label(kind: str) -> str:
    group, _, name = kind.partition(".")
    return {"pii": "PII", "secret": "Secret", "injection": "Injection"}.get(group, group) + ": " + \
        name.replace("_", " ")


def flag_badges(request_flags: list, response_flags: list) -> list[dict]:
    """One badge per group (injection, PII, secret) with the types it holds, for the list."""
    kinds: dict[str, int] = {}
    for finding in [*request_flags, *response_flags]:
        if isinstance(finding, dict) and finding.get("type"):
            kinds[finding["type"]] = kinds.get(finding["type"], 0) + int(finding.get("count") or 1)
    badges = []
    for group, label, css in FLAG_GROUP_LABELS:
        mine = {k: n for k, n in kinds.items() if k.startswith(group + ".")}
        if mine:
            badges.append({"group": group, "label": label, "css": css,
                           "title": ", ".join(f"{flag_label(k)} ×{n}" for k, n in sorted(mine.items()))})
    return badges


def provider_key_names(organization_id, rows: list[dict]) -> dict[str, str]:
    ids = {r["provider_key_id"] for r in rows if r.get("provider_key_id")}
    if not ids:
        return {}
    keys = ProviderKey.objects.filter(organization_id=organization_id, id__in=ids).values_list("id", "name")
    return {str(key_id): name for key_id, name in keys}


def with_key_names(organization_id, rows: list[dict]) -> list[dict]:
    """Clean rows and flatten in provider_key_name and prompt_version (name@version), one ORM query each per page."""
    from evals.prompt_refs import describe

    names = provider_key_names(organization_id, rows)
    refs = describe(organization_id, {r["prompt_version_id"] for r in rows if r.get("prompt_version_id")})
    cleaned = []
    for row in rows:
        row = clean(row)
        row["provider_key_name"] = names.get(row.get("provider_key_id") or "")
        ref = refs.get(row.get("prompt_version_id") or "")
        row["prompt_version"] = ref.text if ref else None
        row["prompt_url"] = ref.url if ref else None
        # name@3 reads best in a URL; a row logged by a label keeps its own id (the label may have moved).
        row["prompt_filter"] = ref.text if ref and ref.version is not None else row.get("prompt_version_id")
        cleaned.append(row)
    return cleaned


def to_json(row: dict) -> dict:
    """The API shape: ISO timestamps, everything else as cleaned."""
    out = dict(row)
    out.pop("prompt_filter", None)  # a link target for the pages, not data
    out["created_at"] = iso(row.get("created_at"))
    return out

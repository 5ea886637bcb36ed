"""`x-spanlens-prompt-version` → the version id recorded on the request row.

Runs in the log writer thread while rows are built, after the response has
left, so a slow or failing lookup can never delay or fail a call. Accepted
forms: a version id, `name@3`, `name@<label>` and `name@latest`.

- A number needs no lookup: version ids are derived from (organization, name,
  number), so `name@3` gets version 3's id even before version 3 exists.
- A label or `latest` is looked up once and cached in-process; the prompt
  services clear the entry when they change the prompt, and entries expire
  after CACHE_TTL_S so other processes' changes arrive too.
- A name with no such prompt or label keeps the proxy's original uuid5 of the
  header, so nothing is lost and rows logged that way keep their id.
"""
from __future__ import annotations

import logging
import threading
import time

from proxy.logentry import prompt_version_uuid

log = logging.getLogger("spanlens.prompts")

CACHE_TTL_S = 10.0
_cache: dict[tuple[str, str, str], tuple[float, str | None]] = {}
_lock = threading.Lock()


def resolve(value: str | None, organization_id) -> str | None:
    if not value:
        return None
    value = value.strip()
    name, at, ref = value.rpartition("@")
    if not at or not name or not ref:
        return prompt_version_uuid(value, str(organization_id))
    if ref.isdecimal():
        return prompt_version_uuid(f"{name}@{int(ref)}", str(organization_id))
    try:
        found = _lookup(str(organization_id), name, ref)
    except Exception:  # the database being away must not cost the row
        log.exception("could not resolve prompt version %r; keeping the name's id", value)
        found = None
    return found or prompt_version_uuid(value, str(organization_id))


def _lookup(organization_id: str, name: str, ref: str) -> str | None:
    key = (organization_id, name, ref)
    now = time.monotonic()
    hit = _cache.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    from evals.models import Prompt, PromptLabel, PromptVersion

    found: str | None = None
    prompt_id = Prompt.objects.filter(organization_id=organization_id, name=name).values_list("id", flat=True).first()
    if prompt_id is not None:
        if ref == "latest":
            found = (PromptVersion.objects.filter(prompt_id=prompt_id, archived_at__isnull=True)
                     .order_by("-version").values_list("id", flat=True).first())
        else:
            found = (PromptLabel.objects.filter(prompt_id=prompt_id, name=ref)
                     .values_list("version_id", flat=True).first())
    found = str(found) if found else None
    with _lock:
        _cache[key] = (now + CACHE_TTL_S, found)
    return found


def invalidate(organization_id, name: str) -> None:
    """Forget what is cached for one prompt (its labels or versions changed)."""
    org = str(organization_id)
    with _lock:
        for key in [k for k in _cache if k[0] == org and k[1] == name]:
            del _cache[key]


def clear() -> None:
    with _lock:
        _cache.clear()

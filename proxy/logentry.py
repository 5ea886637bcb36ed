"""A proxied call waiting to be logged. The proxy fills it on the hot path with
what it already has; to_row() runs in the writer thread, where parsing,
reassembly, masking, cost and security scanning cost the event loop nothing."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

from django.conf import settings

from proxy import privacy, security
from proxy.cost import row_cost
from proxy.providers import ADAPTERS
from proxy.providers.base import Usage, reset_clamped, was_clamped
from spanlens.requestlog.ids import new_request_id


class PendingLog:
    __slots__ = (
        "id", "created_at", "tenant", "provider", "provider_key_id", "endpoint", "method", "model",
        "stream", "request_body", "response_raw", "status_code", "latency_ms", "proxy_overhead_ms",
        "truncated", "error_message", "meta", "log_body", "client_gone", "price_free", "redacted",
        "budget_hold",
    )

    def __init__(self, *, created_at: float, tenant, provider: str, endpoint: str, method: str, meta: dict):
        self.id: str | None = None  # made when spooled or built (spanlens/requestlog/ids.py)
        self.created_at = created_at
        self.tenant = tenant
        self.provider = provider
        self.provider_key_id = None
        self.endpoint = endpoint
        self.method = method
        self.model = None
        self.stream = False
        self.request_body = b""
        self.response_raw = b""
        self.status_code = 0
        self.latency_ms = 0
        self.proxy_overhead_ms = 0
        self.truncated = False
        self.error_message = ""
        # The client hung up mid-stream; whether that cut anything is decided in to_row().
        self.client_gone = False
        # The provider key says calls through it cost nothing when the table has no price.
        self.price_free = False
        self.meta = meta  # x-spanlens-* values
        self.log_body = meta.get("log_body") or "full"
        # Findings a project policy redacted before forwarding: the stored body no longer holds them.
        self.redacted: list[dict] = []
        # The budget counters this call was counted on with an estimate (spanlens.budgets.enforce).
        self.budget_hold: tuple | None = None

    def priced(self):
        """(parsed, usage, model, cut_short, cost, cost_source) of the call as it ended; the
        budget counters get the cost here, whether or not the row is stored."""
        adapter = ADAPTERS[self.provider]
        reset_clamped()
        parsed = None
        if self.response_raw:
            if self.stream:
                parsed = adapter.reassemble_stream(self.response_raw, self.model)
            else:
                parsed = adapter.parse_response(self.response_raw, self.model)
        usage = parsed.usage if parsed else Usage(model=self.model)
        model = usage.model or self.model or ""
        # A stream without its terminal event ended early: its usage is missing or partial.
        cut_short = self.stream and self.status_code < 400 and not (parsed and parsed.complete)
        # ... and some servers never send stream usage at all: count those tokens ourselves.
        estimate = (cut_short or (self.stream and self.status_code < 400 and not usage.total_tokens)) \
            and bool(model) and not (parsed and parsed.error)
        cost, cost_source = row_cost(self, usage, model, parsed, estimate=estimate)
        hold, self.budget_hold = self.budget_hold, None
        if hold:
            from spanlens.budgets.enforce import settle

            try:
                settle(hold, cost, model)
            except Exception:  # Redis away: the estimate stands; the row must still be written
                import logging

                logging.getLogger("spanlens.budgets").warning("could not settle a call's budget spend", exc_info=True)
        return parsed, usage, model, cut_short, cost, cost_source

    def to_row(self) -> dict:
        from spanlens.requestlog.queries import format_epoch

        if self.id is None:
            self.id = new_request_id(self.created_at)
        parsed, usage, model, cut_short, cost, cost_source = self.priced()
        body = parsed.body if parsed else None
        prompt, completion = usage.prompt_tokens, usage.completion_tokens
        cache_read, cache_write = usage.cache_read_tokens, usage.cache_write_tokens

        cap = settings.BODY_CAP_BYTES
        request_text = privacy.stored_body(self.request_body, cap)
        if body is not None:
            import orjson

            response_text = privacy.stored_body(orjson.dumps(body), cap)
        else:
            response_text = privacy.stored_body(self.response_raw, cap)
        error = self.error_message or (parsed.error if parsed else "")
        if not error and self.client_gone and cut_short:
            error = "Client disconnected before the stream ended."
        if not error and self.status_code >= 400:
            error = privacy.stored_body(self.response_raw, 4096)
        flags = security.scan(request_text, redacted=self.redacted)
        response_flags = security.scan(response_text)
        keep_bodies = self.log_body == "full"
        keep_ids = self.log_body != "none"
        meta = self.meta
        return {
            "id": self.id,
            "organization_id": self.tenant.organization_id,
            "project_id": self.tenant.project_id,
            "api_key_id": self.tenant.api_key_id,
            "provider_key_id": self.provider_key_id,
            "provider": self.provider,
            "model": model,
            "endpoint": self.endpoint,
            "method": self.method,
            "stream": self.stream,
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "cache_read_tokens": cache_read,
            "cache_write_tokens": cache_write,
            "cost_usd": str(cost) if cost is not None else None,
            "cost_source": cost_source,
            "latency_ms": self.latency_ms,
            "proxy_overhead_ms": self.proxy_overhead_ms,
            "status_code": self.status_code,
            "request_body": request_text if keep_bodies else "",
            "response_body": response_text if keep_bodies else "",
            "trace_id": _uuid_or_none(meta.get("trace_id")),
            "span_id": _uuid_or_none(meta.get("span_id")),
            "prompt_version_id": _resolve_prompt_version(meta.get("prompt_version_id"), self.tenant.organization_id),
            "user_id": meta.get("user_id") if keep_ids else None,
            "session_id": meta.get("session_id") if keep_ids else None,
            "sample_rate": sample_rate(meta.get("sample_rate"), self.status_code),
            "usage_clamped": was_clamped(),
            "log_body": self.log_body,
            "flags": flags,
            "response_flags": response_flags,
            "truncated": self.truncated,
            "error_message": privacy.mask_keys(error or ""),
            "created_at": format_epoch(self.created_at),
        }


def sample_rate(header, status_code) -> float:
    """The weight's inverse for this row: the SDK's rate for a kept call in (0, 1]; 1 for anything
    else, and for an error (the SDK keeps every error whatever the rate, so each counts once)."""
    try:
        rate = float(header) if header is not None else 1.0
    except (TypeError, ValueError):
        return 1.0
    if not 0.0 < rate <= 1.0 or (status_code or 0) >= 400:
        return 1.0
    return rate


# Fixed namespace for prompt versions named as "name@version" (see prompt_version_uuid).
PROMPT_VERSION_NAMESPACE = uuid.UUID("8d0f3f4e-6a52-4a8e-9b53-5f1f3a0c2b7d")


def prompt_version_uuid(value: str | None, organization_id: str) -> str | None:
    """x-spanlens-prompt-version is a version's UUID or "name@version".

    A name is recorded as a stable id derived from the organization and the name,
    so every call of the same version carries the same id and /requests can
    filter on it before (or without) a prompt row existing.
    """
    if not value:
        return None
    direct = _uuid_or_none(value)
    if direct is not None:
        return direct
    if "@" not in value:
        return None
    return str(uuid.uuid5(PROMPT_VERSION_NAMESPACE, f"{organization_id}:{value.strip()}"))


def _resolve_prompt_version(value: str | None, organization_id: str) -> str | None:
    # Labels and `latest` need a database lookup; it happens here, in the writer thread.
    if not value:
        return None
    from evals.prompt_resolve import resolve

    return resolve(value, organization_id)


def _uuid_or_none(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


# --- the spool's form of a pending row (spanlens/requestlog/spool.py) ---

def to_spool(entry: PendingLog) -> dict:
    """Plain data for the crash spool: every field but the tenant's decrypted keys.
    The id is fixed here so a replay after a crash writes the same row, not a twin.

    This runs on the event loop for every logged call, so the fields travel as one
    tuple read by a C attrgetter, beside their names, rather than as a dict built
    field by field (a third less time per call)."""
    if entry.id is None:
        entry.id = new_request_id(entry.created_at)
    names, values_of, path = _spool_plan(type(entry))
    tenant = entry.tenant
    return {"id": entry.id, "created_at": entry.created_at, "class": path, "slots": names,
            "values": values_of(entry), "tenant": (tenant.organization_id, tenant.project_id, tenant.api_key_id)}


def from_spool(record: dict) -> PendingLog:
    from proxy.auth import Tenant

    cls, slots = _spooled_class(record.get("class", "proxy.logentry:PendingLog"))
    entry = cls.__new__(cls)
    if "values" in record:
        names, values = record["slots"], record["values"]
        if names == slots:  # spooled by this code: the values are the slots, in order
            for slot, value in zip(slots, values):
                setattr(entry, slot, value)
        else:  # spooled by another version: match by name, None for what it did not have
            fields = dict(zip(names, values))
            for slot in slots:
                setattr(entry, slot, fields.get(slot))
    else:  # a record spooled field by field (before the tuple form)
        for slot in slots:
            setattr(entry, slot, record.get(slot))
    organization_id, project_id, api_key_id = record["tenant"]
    entry.tenant = Tenant(organization_id, project_id, api_key_id, {})
    return entry


_SPOOLED_CLASSES: dict[str, tuple] = {}


def _spooled_class(path: str) -> tuple:
    """(class, its slots but the tenant) of a spool record's "module:Class", looked up once."""
    found = _SPOOLED_CLASSES.get(path)
    if found is None:
        import importlib

        module, _, name = path.partition(":")
        cls = getattr(importlib.import_module(module), name)
        found = _SPOOLED_CLASSES[path] = (cls, tuple(slot for slot in _all_slots(cls) if slot != "tenant"))
    return found


def _all_slots(cls) -> list[str]:
    return [name for klass in reversed(cls.__mro__) for name in getattr(klass, "__slots__", ())]


_SPOOL_PLANS: dict[type, tuple] = {}


def _spool_plan(cls) -> tuple:
    """(field names, a getter of their values as one tuple, "module:Class") per entry class."""
    plan = _SPOOL_PLANS.get(cls)
    if plan is None:
        import operator

        names = tuple(name for name in _all_slots(cls) if name != "tenant")
        # Subclasses (a judge call's row, …) come back as themselves.
        plan = _SPOOL_PLANS[cls] = (names, operator.attrgetter(*names), f"{cls.__module__}:{cls.__qualname__}")
    return plan


def partial_row(entry: PendingLog, exc: Exception) -> dict:
    """What is known of a call whose row could not be built (a parsing bug, an odd body):
    status, latency, bodies and an error saying what failed, so the call is never missing."""
    from spanlens.requestlog.queries import format_ts

    if entry.id is None:
        entry.id = new_request_id(entry.created_at)
    cap = settings.BODY_CAP_BYTES
    keep_bodies = entry.log_body == "full"
    keep_ids = entry.log_body != "none"
    meta = entry.meta or {}
    problem = f"Spanlens could not parse this call's response ({type(exc).__name__}); tokens and cost are unknown."
    return {
        "id": entry.id,
        "organization_id": entry.tenant.organization_id,
        "project_id": entry.tenant.project_id,
        "api_key_id": entry.tenant.api_key_id,
        "provider_key_id": entry.provider_key_id,
        "provider": entry.provider,
        "model": entry.model if isinstance(entry.model, str) else "",
        "endpoint": entry.endpoint,
        "method": entry.method,
        "stream": bool(entry.stream),
        "cost_usd": None,
        "cost_source": "unknown",
        "latency_ms": entry.latency_ms,
        "proxy_overhead_ms": entry.proxy_overhead_ms,
        "status_code": entry.status_code,
        "request_body": privacy.stored_body(entry.request_body, cap) if keep_bodies else "",
        "response_body": privacy.stored_body(entry.response_raw, cap) if keep_bodies else "",
        "user_id": meta.get("user_id") if keep_ids else None,
        "session_id": meta.get("session_id") if keep_ids else None,
        "sample_rate": sample_rate(meta.get("sample_rate"), entry.status_code),
        "log_body": entry.log_body,
        "truncated": bool(entry.truncated),
        "error_message": privacy.mask_keys(" ".join(filter(None, [entry.error_message, problem]))),
        "created_at": format_ts(datetime.fromtimestamp(entry.created_at, timezone.utc)),
    }

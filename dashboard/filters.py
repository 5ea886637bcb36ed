"""The request-list query string, parsed once for the page, the API and exports.

Parameter names follow the public API (projectId, sortBy, ...). A bad value
raises FilterError naming the parameter, which the API turns into a 400 and
the page into a form error.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from urllib.parse import urlencode

from spanlens.core.models import ProviderKey
from spanlens.requestlog.queries import FLAG_GROUPS, SORT_COLUMNS, STATUS_FILTERS
from spanlens.security.detectors import KINDS as FLAG_TYPES

MAX_LIMIT = 100
DEFAULT_LIMIT = 50
SORT_DIRS = ("asc", "desc")
# URL-only drill-down filters: shown in the active-filter banner, not the toolbar.
URL_ONLY = (("promptVersionId", "Prompt version"), ("userId", "User"), ("sessionId", "Session"),
            ("cacheHit", "Cache hit"))


class FilterError(ValueError):
    def __init__(self, param: str, message: str):
        super().__init__(f"{param}: {message}")
        self.param = param
        self.message = message


@dataclass
class RequestFilters:
    projectId: str = ""
    provider: str = ""
    model: str = ""
    providerKeyId: str = ""
    promptVersionId: str = ""
    userId: str = ""
    sessionId: str = ""
    status: str = "all"
    flag: str = ""
    # "true": only calls the response cache answered; "false": only calls that reached the provider.
    cacheHit: str = ""
    from_: datetime | None = None
    to: datetime | None = None
    q: str = ""
    sortBy: str = "created_at"
    sortDir: str = "desc"
    page: int = 1
    limit: int = DEFAULT_LIMIT
    errors: dict[str, str] = field(default_factory=dict)
    # promptVersionId as the version id the request log holds (name@version resolved).
    prompt_version_uuid: str = ""

    def query_kwargs(self) -> dict:
        """Keyword arguments for the queries.list_* functions."""
        return {
            "project_id": self.projectId or None,
            "provider": self.provider or None,
            "model": self.model or None,
            "provider_key_id": self.providerKeyId or None,
            "prompt_version_id": self.prompt_version_uuid or None,
            "user_id": self.userId or None,
            "session_id": self.sessionId or None,
            "status": self.status,
            "flag": self.flag or None,
            "cache_hit": {"true": True, "false": False}.get(self.cacheHit),
            "since": self.from_,
            "until": self.to,
            "search": self.q or None,
            "sort_by": self.sortBy,
            "sort_dir": self.sortDir,
        }

    def params(self, **overrides) -> dict[str, str]:
        """The non-default parameters, as they appear in the URL."""
        out: dict[str, str] = {}
        for f in fields(self):
            if f.name in ("errors", "prompt_version_uuid"):
                continue
            value = overrides.get(f.name, getattr(self, f.name))
            default = f.default
            if value == default or value in ("", None):
                continue
            name = "from" if f.name == "from_" else f.name
            out[name] = _format_ts(value) if isinstance(value, datetime) else str(value)
        return out

    def querystring(self, **overrides) -> str:
        return urlencode(self.params(**overrides))

    def querystring_without(self, *names: str) -> str:
        """The query string with these filters dropped and the others kept, from page 1."""
        return self.querystring(**{name: "" for name in names}, page=1)

    def url_only_active(self) -> list[tuple[str, str, str]]:
        return [(name, label, getattr(self, name)) for name, label in URL_ONLY if getattr(self, name)]

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.limit


def _format_ts(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse(query, *, organization_id, strict: bool = True) -> RequestFilters:
    """Parse a QueryDict. strict raises on the first bad parameter; otherwise bad
    parameters are dropped and recorded in .errors (pages show them).

    organization_id resolves promptVersionId=name@version to that organization's version id.
    """
    result = RequestFilters()
    for name, parser in _PARSERS:
        raw = query.get(name)
        if raw is None or raw.strip() == "":
            continue
        try:
            setattr(result, "from_" if name == "from" else name, parser(name, raw.strip()))
        except FilterError as exc:
            if strict:
                raise
            result.errors[exc.param] = exc.message
    if result.from_ and result.to and result.from_ > result.to:
        if strict:
            raise FilterError("to", "must not be earlier than from")
        result.errors["to"] = "must not be earlier than from"
        result.to = None
    if result.promptVersionId:
        from evals.prompt_resolve import resolve

        result.prompt_version_uuid = resolve(result.promptVersionId, organization_id) or ""
    return result


def _uuid(name: str, raw: str) -> str:
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        raise FilterError(name, "must be a UUID")


def _prompt_version(name: str, raw: str) -> str:
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        pass
    prompt, at, ref = raw.rpartition("@")
    if not (prompt and at and ref) or len(raw) > 300:
        raise FilterError(name, "must be a version id (UUID) or name@version, such as support-reply@3 or "
                                "support-reply@production")
    return raw


def _text(name: str, raw: str) -> str:
    if len(raw) > 500:
        raise FilterError(name, "is longer than 500 characters")
    return raw


def _provider(name: str, raw: str) -> str:
    if raw not in ProviderKey.Provider.values:
        raise FilterError(name, f"must be one of {', '.join(ProviderKey.Provider.values)}")
    return raw


def _choice(options):
    def parse_choice(name: str, raw: str) -> str:
        if raw not in options:
            raise FilterError(name, f"must be one of {', '.join(options)}")
        return raw

    return parse_choice


# The range of the request log's DateTime64 column: outside it ClickHouse refuses the value.
EARLIEST = datetime(1900, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(2299, 12, 31, 23, 59, 59, tzinfo=timezone.utc)


def _timestamp(name: str, raw: str) -> datetime:
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "+") if "T" in raw else raw)
    except ValueError:
        raise FilterError(name, "must be an ISO 8601 timestamp such as 2024-01-31T23:59:59Z")
    value = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if not EARLIEST <= value <= LATEST:
        raise FilterError(name, "must be between 1900-01-01 and 2299-12-31")
    return value


def _positive_int(maximum: int | None = None):
    def parse_int(name: str, raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise FilterError(name, "must be a whole number")
        if value < 1:
            raise FilterError(name, "must be at least 1")
        if maximum is not None and value > maximum:
            raise FilterError(name, f"must be at most {maximum}")
        return value

    return parse_int


_PARSERS = (
    ("projectId", _uuid),
    ("provider", _provider),
    ("model", _text),
    ("providerKeyId", _uuid),
    ("promptVersionId", _prompt_version),
    ("userId", _text),
    ("sessionId", _text),
    ("status", _choice(("all", *STATUS_FILTERS))),
    # A finding type, or a group: any, pii (secrets included), injection.
    ("flag", _choice((*FLAG_GROUPS, *FLAG_TYPES))),
    ("cacheHit", _choice(("true", "false"))),
    ("from", _timestamp),
    ("to", _timestamp),
    ("q", _text),
    ("sortBy", _choice(tuple(SORT_COLUMNS))),
    ("sortDir", _choice(SORT_DIRS)),
    ("page", _positive_int()),
    ("limit", _positive_int(MAX_LIMIT)),
)

"""The /sessions query string: which sessions, in which order. Bad values become form errors."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlencode

from dashboard.filters import FilterError, _choice, _positive_int, _text, _timestamp, _format_ts
from spanlens.requestlog.sessions import SESSION_SORT_COLUMNS

LIMIT = 50


@dataclass
class SessionFilters:
    q: str = ""
    userId: str = ""
    model: str = ""
    errors: str = ""  # "only": sessions with at least one failed call
    from_: datetime | None = None
    to: datetime | None = None
    sortBy: str = "last_seen"
    sortDir: str = "desc"
    page: int = 1
    problems: dict[str, str] = field(default_factory=dict)

    def query_kwargs(self) -> dict:
        return {"search": self.q or None, "user_id": self.userId or None, "model": self.model or None,
                "errors_only": self.errors == "only", "since": self.from_, "until": self.to,
                "sort_by": self.sortBy, "sort_dir": self.sortDir, "page": self.page, "limit": LIMIT}

    def params(self, **overrides) -> dict[str, str]:
        values = {"q": self.q, "userId": self.userId, "model": self.model, "errors": self.errors,
                  "from": self.from_, "to": self.to, "sortBy": self.sortBy, "sortDir": self.sortDir,
                  "page": self.page}
        values.update(overrides)
        defaults = {"sortBy": "last_seen", "sortDir": "desc", "page": 1}
        out = {}
        for name, value in values.items():
            if value in ("", None) or defaults.get(name) == value:
                continue
            out[name] = _format_ts(value) if isinstance(value, datetime) else str(value)
        return out

    def querystring(self, **overrides) -> str:
        return urlencode(self.params(**overrides))

    def sort_link(self, column: str) -> dict:
        active = self.sortBy == column
        direction = "asc" if active and self.sortDir == "desc" else "desc"
        return {"qs": self.querystring(sortBy=column, sortDir=direction, page=1), "active": active,
                "arrow": ("↓" if self.sortDir == "desc" else "↑") if active else ""}


_PARSERS = (
    ("q", _text), ("userId", _text), ("model", _text), ("errors", _choice(("only",))),
    ("from", _timestamp), ("to", _timestamp),
    ("sortBy", _choice(tuple(SESSION_SORT_COLUMNS))), ("sortDir", _choice(("asc", "desc"))),
    ("page", _positive_int()),
)


def parse(query) -> SessionFilters:
    result = SessionFilters()
    for name, parser in _PARSERS:
        raw = query.get(name)
        if raw is None or raw.strip() == "":
            continue
        try:
            setattr(result, "from_" if name == "from" else name, parser(name, raw.strip()))
        except FilterError as exc:
            result.problems[exc.param] = exc.message
    if result.from_ and result.to and result.from_ > result.to:
        result.problems["to"] = "must not be earlier than from"
        result.to = None
    return result

"""Request checks every Django view gets before it runs."""
from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest

from spanlens.core.access import api_error

# Django's CSRF check parses these bodies before any view anyway.
_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


class RejectNulCharacters:
    """A NUL character in a query parameter or form field is a 400 naming it.

    PostgreSQL refuses NUL in text (and jsonb refuses \\u0000), so such a value
    reached the database as a 500 (SQLite stored it). No legitimate parameter holds
    one, nor a field of the management API's JSON bodies; the SDK's ingest is the
    exception (its parser drops NULs from captured data), and uploaded files are
    their importer's.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        sources = [request.GET]
        if request.method == "POST" and request.content_type in _FORMS:
            sources.append(request.POST)
        for params in sources:
            for name, values in params.lists():
                if "\x00" in name or any("\x00" in v for v in values):
                    return _refuse(request, name.replace("\x00", ""))
        if (request.method in _WRITES and request.path.startswith("/api/") and request.path not in _INGEST
                and request.content_type == "application/json"):
            field = _nul_field(request.body)
            if field is not None:
                return _refuse(request, field, what="body field")
        return self.get_response(request)


_WRITES = ("POST", "PUT", "PATCH")
_INGEST = frozenset(("/api/v1/ingest",))


def _nul_field(body: bytes) -> str | None:
    """The path of the first JSON key or string holding a NUL, or None. Only a body with an
    escaped NUL in it is parsed here (raw control characters are invalid JSON anyway)."""
    if b"\\u0000" not in body:
        return None
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None  # the view answers a broken body with its own 400
    stack = [(doc, "body")]
    while stack:
        node, where = stack.pop()
        if isinstance(node, str):
            if "\x00" in node:
                return where
        elif isinstance(node, dict):
            for key, value in node.items():
                if "\x00" in key:
                    return f"{where}.{key.replace(chr(0), '')}"
                stack.append((value, f"{where}.{key}"))
        elif isinstance(node, list):
            stack.extend((item, f"{where}[{i}]") for i, item in enumerate(node))
    return None


def _refuse(request: HttpRequest, name: str, what: str = "parameter") -> HttpResponse:
    message = f"invalid {what} {name}: must not contain NUL characters"
    if request.path.startswith("/api/"):
        return api_error(message, 400)
    return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")

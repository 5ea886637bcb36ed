"""Request checks every Django view gets before it runs."""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest

from spanlens.core.access import api_error

# Django's CSRF check parses these bodies before any view anyway.
_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


class RejectNulCharacters:
    """A NUL character in a query parameter or form field is a 400 naming it.

    PostgreSQL refuses NUL in text, so such a value reached the database as a 500
    (SQLite stored it). No legitimate parameter holds one; JSON bodies are the
    ingest parser's business (it drops NULs from captured data), and uploaded
    files are their importer's.
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
        return self.get_response(request)


def _refuse(request: HttpRequest, name: str) -> HttpResponse:
    message = f"invalid parameter {name}: must not contain NUL characters"
    if request.path.startswith("/api/"):
        return api_error(message, 400)
    return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")

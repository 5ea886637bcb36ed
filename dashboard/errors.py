"""Error pages: 403, 404 and 500 in the product's layout; API paths answer in the API's JSON."""
from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string

log = logging.getLogger("spanlens.errors")

TITLES = {403: "Not allowed", 404: "Page not found", 500: "Server error"}
MESSAGES = {
    403: "You are signed in, but your role does not allow this here.",
    404: "This page does not exist, or it belongs to an organization you are not a member of.",
    500: "Something went wrong on our side. The error is in the server log; try again in a moment.",
}


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def _page(request: HttpRequest, status: int, detail: str = "") -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"success": False, "error": detail or MESSAGES[status]}, status=status)
    context = {"status": status, "title": TITLES[status], "message": MESSAGES[status], "detail": detail}
    try:
        html = render_to_string(f"{status}.html", context, request=request)
    except Exception:
        # The layout needs the database (the organization switcher); if that is what
        # failed, the same page renders without the signed-in parts.
        log.exception("error page %s could not render with the request; rendering it bare", status)
        try:
            html = render_to_string(f"{status}.html", context)
        except Exception:
            html = f"<!doctype html><title>{status}</title><h1>{status}</h1><p>{MESSAGES[status]}</p>"
    return HttpResponse(html, status=status)


def permission_denied(request: HttpRequest, exception=None) -> HttpResponse:
    detail = str(exception) if exception and str(exception) else ""
    return _page(request, 403, detail)


def page_not_found(request: HttpRequest, exception=None) -> HttpResponse:
    return _page(request, 404)


def server_error(request: HttpRequest) -> HttpResponse:
    return _page(request, 500)

"""When the request log cannot answer: a 503 that says so, not a 500.

Pages render a "request log unavailable" state and APIs a JSON error, each with
how many rows are waiting to be written (they are not lost: the writer keeps
them in memory or in the fallback table and retries by itself).
"""
from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.shortcuts import render

from spanlens.requestlog.engine import ClickHouseUnavailable


def rows_waiting() -> int:
    from spanlens.core.models import RequestFallback
    from spanlens.requestlog.writer import get_writer

    waiting = get_writer().pending
    try:
        waiting += RequestFallback.objects.count()
    except Exception:  # the database may be the other thing that is down
        pass
    return waiting


class RequestLogOutageMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception):
        if not isinstance(exception, ClickHouseUnavailable):
            return None
        waiting = rows_waiting()
        message = (f"The request log (ClickHouse) is unavailable; {waiting} rows are waiting and will be "
                   "written when it is back.")
        if request.path.startswith("/api/"):
            response = JsonResponse({"success": False, "error": message, "rows_waiting": waiting}, status=503)
        else:
            response = render(request, "dashboard/log_unavailable.html",
                              {"waiting": waiting, "detail": str(exception)[:300]}, status=503)
        response["Retry-After"] = "30"
        return response

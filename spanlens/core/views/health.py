"""Readiness and deep health. Liveness (/health) is answered by the proxy app."""
from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

from spanlens.core import health


@never_cache
def ready(request: HttpRequest) -> JsonResponse:
    ok, body = health.ready()
    return JsonResponse(body, status=200 if ok else 503)


@never_cache
def deep(request: HttpRequest) -> JsonResponse:
    ok, body = health.deep()
    return JsonResponse(body, status=200 if ok else 503)

"""GET /api/v1/openapi.json and the docs page that renders it (vendored Swagger UI)."""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from spanlens.openapi.schema import STRING, error


@require_GET
def openapi_json(request: HttpRequest) -> JsonResponse:
    from spanlens.openapi.spec import document

    return JsonResponse(document(), json_dumps_params={"ensure_ascii": False})


@require_GET
def docs(request: HttpRequest) -> HttpResponse:
    return render(request, "openapi/docs.html")


PATHS = {
    "/api/v1/openapi.json": {
        "get": {"summary": "This document (OpenAPI 3.1)", "tags": ["API"], "security": [],
                "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}},
                              "503": error(503)}},
    },
    "/api/v1/docs": {
        "get": {"summary": "The API reference, rendered from this document", "tags": ["API"], "security": [],
                "responses": {"200": {"description": "An HTML page", "content": {"text/html": {"schema": STRING}}},
                              "503": error(503)}},
    },
}

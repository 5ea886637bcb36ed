"""The whole OpenAPI document: shared parts here, each app's paths from its openapi.py."""
from __future__ import annotations

import copy
import functools
from importlib import import_module
from importlib.util import find_spec

from django.apps import apps

from spanlens.openapi.schema import BOOLEAN, STRING, array, obj
from spanlens.version import VERSION

DESCRIPTION = """The Spanlens REST API. Authenticate with `Authorization: Bearer sl_live_...` (a project's
API key; its scopes decide what it may call) or a signed-in session (CSRF token on writes).
Answers are `{"success": true, "data": ..., "meta": ...}`; bad input is a 4xx
`{"success": false, "error": "..."}` naming what was wrong, never a 500."""

COMPONENTS = {
    "securitySchemes": {
        "apiKey": {"type": "http", "scheme": "bearer", "description": "A Spanlens API key: sl_live_..."},
        "session": {"type": "apiKey", "in": "cookie", "name": "sessionid",
                    "description": "A signed-in session (the dashboard); writes need the CSRF token."},
    },
    "schemas": {
        "Error": obj({
            "success": {"const": False},
            "error": STRING,
            "field": STRING,
            "missing_scope": STRING,
            "errors": array(obj()),
        }, required=["success", "error"]),
        "Deleted": obj({"id": STRING, "deleted": BOOLEAN}, required=["id", "deleted"]),
    },
}


def _app_paths() -> list[tuple[str, dict]]:
    """(app label, PATHS) for every installed app that has an openapi module."""
    found = []
    for config in apps.get_app_configs():
        name = f"{config.name}.openapi"
        if config.name == "spanlens.openapi" or find_spec(name) is None:
            continue
        found.append((config.label, getattr(import_module(name), "PATHS")))
    return found


@functools.cache
def _document() -> dict:
    paths: dict[str, dict] = {}
    for label, contributed in _app_paths():
        for route, item in contributed.items():
            if route in paths:
                raise ValueError(f"{route} is described twice (again by {label})")
            paths[route] = item
    from spanlens.openapi.views import PATHS as OWN

    paths.update(OWN)
    tags = sorted({tag for item in paths.values() for operation in item.values() for tag in operation.get("tags", [])})
    return {
        "openapi": "3.1.0",
        "info": {"title": "Spanlens API", "version": VERSION, "description": DESCRIPTION},
        "servers": [{"url": "/"}],
        "security": [{"apiKey": []}, {"session": []}],
        "tags": [{"name": t} for t in tags],
        "paths": dict(sorted(paths.items())),
        "components": COMPONENTS,
    }


def document() -> dict:
    """The OpenAPI document (a fresh copy: callers may change it)."""
    return copy.deepcopy(_document())

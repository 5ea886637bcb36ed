"""Serve the built documentation: public, read-only static files.

The theme writes a few inline scripts (its configuration, the colour palette); the docs
build hashes each into csp-hashes.json, and exactly those hashes are allowed here, so the
policy stays "no inline script" everywhere else and "only these" on /docs/.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.static import serve


def site_dir() -> Path:
    return Path(settings.DOCS_SITE_DIR)


@lru_cache(maxsize=4)
def _hashes(stamp: float) -> list[str]:
    try:
        return json.loads((site_dir() / "csp-hashes.json").read_text())
    except (OSError, ValueError):
        return []


def docs(request, path: str = ""):
    root = site_dir()
    if not (root / "index.html").exists():
        return render(request, "docsite/not_built.html", status=404)
    if path == "" or path.endswith("/"):
        path += "index.html"
    try:
        response = serve(request, path, document_root=str(root))
    except (Http404, SuspiciousFileOperation):
        return HttpResponse("No such page in the documentation.", status=404, content_type="text/plain")
    if path.endswith(".html"):
        stamp = (root / "csp-hashes.json").stat().st_mtime if (root / "csp-hashes.json").exists() else 0.0
        response._csp_update = {"script-src": _hashes(stamp)}
    return response

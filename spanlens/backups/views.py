"""POST /ops/backup/requestlog: the running embedded server writes its request log to a file.

Only for the backup command on the same machine: loopback callers with the
control token from the var dir (readable by the server's user only).
"""
from __future__ import annotations

import hmac
import json
import os

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from spanlens.core import runfile


def _error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"success": False, "error": message}, status=status)


@csrf_exempt
@require_POST
def backup_requestlog(request):
    from spanlens.backups.requestlog import export_here_or_in_server

    token = runfile.control_token()
    given = request.headers.get("X-Spanlens-Control", "")
    if request.META.get("REMOTE_ADDR") not in ("127.0.0.1", "::1") or not token or not hmac.compare_digest(
        given.encode(), token.encode()
    ):
        return _error("not found", 404)
    try:
        path = json.loads(request.body).get("path")
    except (ValueError, AttributeError):
        path = None
    if not isinstance(path, str) or not os.path.isabs(path) or not os.path.isdir(os.path.dirname(path)):
        return _error("path: an absolute file path in an existing folder", 400)
    if os.path.exists(path):
        return _error("path: already exists", 400)
    return JsonResponse({"success": True, "data": {"rows": export_here_or_in_server(path)}})

"""GET /metrics for Prometheus, behind `Authorization: Bearer <METRICS_TOKEN>`."""
from __future__ import annotations

import hmac
import os

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

from spanlens.metrics.collector import SpanlensCollector

# The proxy's counters register on import; importing here makes them show from the first scrape.
from spanlens.metrics import registry as _registry  # noqa: F401


def _error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"success": False, "error": message}, status=status)


@require_GET
def metrics(request):
    token = settings.METRICS_TOKEN
    if not token:
        return _error("metrics are off: set METRICS_TOKEN and scrape with Authorization: Bearer <token>", 404)
    header = request.headers.get("Authorization", "")
    given = header[7:].strip() if header[:7].lower() == "bearer " else ""
    if not hmac.compare_digest(given.encode(), token.encode()):
        return _error("metrics need Authorization: Bearer <METRICS_TOKEN>", 401)
    return HttpResponse(generate_latest(_scrape_registry()), content_type=CONTENT_TYPE_LATEST)


def _scrape_registry():
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        registry.register(SpanlensCollector(per_process=True))
        return registry
    registry = CollectorRegistry()
    registry.register(_Default())
    registry.register(SpanlensCollector())
    return registry


class _Default:
    """The process's own counters, histogram and process/GC metrics from the default registry."""

    def collect(self):
        yield from REGISTRY.collect()

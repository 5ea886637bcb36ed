"""Periodic upkeep of the proxy's own stores."""
from __future__ import annotations

from celery import shared_task


@shared_task(name="proxy.tasks.purge_response_cache")
def purge_response_cache() -> int:
    """Expired entries of the on-disk response cache (Redis expires its own)."""
    from proxy import cache

    return cache.purge()

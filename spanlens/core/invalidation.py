"""Key changes that reach every web process at once.

The proxy caches key lookups per process (proxy/auth.py). A change made through
the services clears this process's cache directly; with Redis configured it is
also published on one channel, and a listener thread in every web process clears
its own cache when the message arrives. The cache TTL stays as the fallback for
a lost message (Redis down, a listener reconnecting).
"""
from __future__ import annotations

import logging
import os
import threading
import time

from django.conf import settings
from django.db import transaction

log = logging.getLogger(__name__)

CHANNEL = "spanlens:keys-changed"

_listener_pid: int | None = None
_listener_lock = threading.Lock()
_publisher = None


def _clear_local() -> None:
    from proxy import auth

    auth.clear_cache()


def keys_changed() -> None:
    """Forget cached key lookups here now, and everywhere once the change is committed."""
    _clear_local()
    # Other processes reload from the database: tell them only after the commit,
    # or they could cache the old row again.
    transaction.on_commit(_publish)


def _publish() -> None:
    _clear_local()
    if not settings.REDIS_URL:
        return
    global _publisher
    try:
        import redis

        if _publisher is None:
            _publisher = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
        _publisher.publish(CHANNEL, str(os.getpid()))
    except Exception as exc:  # the TTL still bounds how stale another process can be
        log.warning("Could not publish a key change to Redis (%s); other processes catch up within %ss.",
                    exc, settings.API_KEY_CACHE_TTL_S)


def start_listener() -> bool:
    """Start this process's listener thread (once per process; a forked child starts its own)."""
    global _listener_pid
    if not settings.REDIS_URL:
        return False
    with _listener_lock:
        if _listener_pid == os.getpid():
            return True
        _listener_pid = os.getpid()
        threading.Thread(target=_listen, name="spanlens-key-invalidation", daemon=True).start()
    return True


def _listen() -> None:
    import redis

    backoff = 0.5
    while True:
        try:
            client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=5, health_check_interval=30)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            pubsub.subscribe(CHANNEL)
            # Messages sent while we were not subscribed are lost: start clean.
            _clear_local()
            backoff = 0.5
            for message in pubsub.listen():
                if message.get("type") == "message":
                    _clear_local()
        except Exception as exc:
            log.warning("Key-change listener lost Redis (%s); retrying in %.1fs.", exc, backoff)
            time.sleep(backoff)
            backoff = min(backoff * 2, 30.0)

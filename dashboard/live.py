"""Live tail: tells the /requests pages that watch an organization which rows were just written.

The writer thread calls announce() after each batch is in ClickHouse. It sends only row
ids to the organization's channel-layer group; each socket then reads the rows its own
filters select (consumers.py), so no row travels to a page that may not see it.
"""
from __future__ import annotations

import asyncio
import logging
from collections import defaultdict

log = logging.getLogger("spanlens.live")

# A burst larger than this reaches the page as its newest rows; the rest are a reload away.
MAX_IDS = 100

# The event loop the ASGI server runs sockets on, noted when one connects. The in-memory
# channel layer lives in that loop, so the writer thread hands its sends to it.
_loop: asyncio.AbstractEventLoop | None = None


def group_name(organization_id) -> str:
    return f"requests.{organization_id}"


def note_loop() -> None:
    global _loop
    _loop = asyncio.get_running_loop()


def announce(rows: list[dict]) -> None:
    """After-write hook: one message per organization with the ids of its new rows."""
    from channels.layers import InMemoryChannelLayer, get_channel_layer

    layer = get_channel_layer()
    if layer is None or not rows:
        return
    loop = _loop
    in_memory = isinstance(layer, InMemoryChannelLayer)
    if in_memory and (loop is None or not loop.is_running()):
        return  # nobody in this process has ever watched: nothing to tell
    ids: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        if row.get("organization_id") and row.get("id"):
            ids[str(row["organization_id"])].append(str(row["id"]))
    for organization_id, row_ids in ids.items():
        group, message = group_name(organization_id), {"type": "rows.added", "ids": row_ids[-MAX_IDS:]}
        try:
            if loop is not None and loop.is_running():
                # Fire and forget: the writer thread never waits on a page.
                asyncio.run_coroutine_threadsafe(layer.group_send(group, message), loop)
            else:
                from asgiref.sync import async_to_sync

                async_to_sync(layer.group_send)(group, message)
        except Exception as exc:  # a channel layer down must not cost the batch's other hooks
            log.warning("live tail: could not announce new rows: %s", exc)

"""Request-log row ids: UUIDv7 (RFC 9562) carrying the call's start time.

The table is sorted by (organization, project, created_at, id), so a lookup by id
alone has to consult a bloom filter over every granule of the organization. A v7 id
holds created_at's millisecond in its first 48 bits: get_request turns it into a
created_at range the sort key answers directly. Rows written before (random v4 ids,
or ids a client chose) are found as before.
"""
from __future__ import annotations

import os
import uuid
from datetime import datetime, timezone


def new_request_id(created_at: float) -> str:
    """A v7 id for a call that started at `created_at` (Unix seconds): 48 bits of its
    millisecond, the version, 74 random bits."""
    raw = bytearray((int(created_at * 1000) & 0xFFFF_FFFF_FFFF).to_bytes(6, "big") + os.urandom(10))
    raw[6] = (raw[6] & 0x0F) | 0x70  # version 7
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 9562 variant
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def time_of(request_id: str) -> datetime | None:
    """The start time a v7 id carries; None for any other id."""
    try:
        value = uuid.UUID(str(request_id))
    except ValueError:
        return None
    if value.version != 7:
        return None
    seconds = (value.int >> 80) / 1000
    # Any 48 bits parse: a time outside what DateTime64(3) holds is no row's (an id someone
    # typed, a random v7), so there is no range to look in.
    if not _EARLIEST <= seconds < _LATEST:
        return None
    return datetime.fromtimestamp(seconds, timezone.utc)


_EARLIEST = datetime(2000, 1, 1, tzinfo=timezone.utc).timestamp()
_LATEST = datetime(2200, 1, 1, tzinfo=timezone.utc).timestamp()

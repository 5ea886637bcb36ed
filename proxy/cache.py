"""The opt-in response cache: `x-spanlens-cache: on` serves an identical earlier answer
instead of calling the provider, `refresh` calls the provider and replaces it.

The key is a SHA-256 of the project id and the normalised request (provider, method,
path, query without credentials, the JSON body with sorted keys and without `user` and
`stream_options`), so neither a provider key nor a Spanlens key is ever part of it.

Streams are kept as the raw bytes upstream sent and replayed as they are: the client
gets the provider's own events (ids, framing, usage chunk) byte for byte, no adapter has
to learn to re-emit its SSE dialect, and the log reassembles a replay exactly like a
live stream. Only complete 2xx answers are stored, after the response has left.

Storage: Redis when REDIS_URL is set (every web process shares it; a hit is one GET and
Redis expires entries itself), otherwise a bounded SQLite file under var/cache with an
approximate LRU bound (RESPONSE_CACHE_MAX_MB) that the beat task also purges.
"""
from __future__ import annotations

import asyncio
import hashlib
import re
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import orjson
from django.conf import settings

from proxy.logentry import PendingLog

HEADER = b"x-spanlens-cache"
HIT = (b"x-spanlens-cache", b"hit")
MISS = (b"x-spanlens-cache", b"miss")
MODES = ("on", "off", "refresh")
DEFAULT_TTL_S = 3600
MAX_TTL_S = 30 * 24 * 3600
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_TTL = re.compile(r"^(\d{1,9})\s*([smhd]?)$")
# Body fields that do not change the answer: who asked, and how usage is reported.
_IGNORED_FIELDS = ("user", "stream_options")
# Query parameters that carry credentials (Gemini's ?key=).
_IGNORED_QUERY = frozenset({"key"})
# Response headers that describe one transfer, not the answer.
_NOT_REPLAYED = frozenset({b"content-length", b"date", b"x-spanlens-cache"})


class CacheRequestError(ValueError):
    pass


@dataclass(frozen=True)
class CacheRequest:
    mode: str  # "on" or "refresh"
    ttl_s: int
    key: str


@dataclass(frozen=True)
class CachedResponse:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    stream: bool


def parse_ttl(raw: str | None) -> int:
    if raw is None or raw.strip() == "":
        return DEFAULT_TTL_S
    match = _TTL.match(raw.strip().lower())
    seconds = int(match.group(1)) * _UNITS[match.group(2)] if match else 0
    if not 1 <= seconds <= MAX_TTL_S:
        raise CacheRequestError(
            "x-spanlens-cache-ttl must be a duration between 1 s and 30 d: seconds (3600) or 90s, 15m, 2h, 7d."
        )
    return seconds


def format_ttl(seconds: int) -> str:
    """The shortest exact form parse_ttl reads back: 3600 -> "1h", 90 -> "90s"."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def request_for(meta: dict, *, project_id: str, provider: str, method: str, path: str,
                query_string: bytes, body: bytes, parsed, project_ttl_s: int = 0) -> CacheRequest | None:
    """What the call asks of the cache; None when the cache is off for it. Without the
    header the project's setting decides (project_ttl_s, 0 = off)."""
    mode = (meta.get("cache") or ("on" if project_ttl_s else "off")).lower()
    if mode not in MODES:
        raise CacheRequestError("x-spanlens-cache must be one of on, off, refresh.")
    if mode == "off":
        return None
    ttl = parse_ttl(meta.get("cache_ttl")) if meta.get("cache_ttl") or not project_ttl_s else project_ttl_s
    return CacheRequest(mode, ttl, cache_key(project_id=project_id, provider=provider, method=method,
                                             path=path, query_string=query_string, body=body, parsed=parsed))


def cache_key(*, project_id: str, provider: str, method: str, path: str, query_string: bytes,
              body: bytes, parsed) -> str:
    if isinstance(parsed, dict):
        normal = orjson.dumps({k: v for k, v in parsed.items() if k not in _IGNORED_FIELDS},
                              option=orjson.OPT_SORT_KEYS)
    elif parsed is not None:
        normal = orjson.dumps(parsed, option=orjson.OPT_SORT_KEYS)
    else:
        normal = body
    query = b"&".join(sorted(
        part for part in query_string.split(b"&") if part and part.split(b"=", 1)[0].decode("latin-1") not in _IGNORED_QUERY
    ))
    digest = hashlib.sha256()
    for part in (project_id.encode(), provider.encode(), method.encode(), path.encode(), query):
        digest.update(part)
        digest.update(b"\0")
    digest.update(normal)
    return digest.hexdigest()


def encode(response: CachedResponse) -> bytes:
    head = orjson.dumps({
        "status": response.status,
        "stream": response.stream,
        "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in response.headers],
    })
    return head + b"\n" + response.body


def decode(value: bytes) -> CachedResponse | None:
    head, sep, body = value.partition(b"\n")
    if not sep:
        return None
    try:
        meta = orjson.loads(head)
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in meta["headers"]]
        return CachedResponse(int(meta["status"]), headers, body, bool(meta["stream"]))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


def replay_headers(headers) -> list[tuple[bytes, bytes]]:
    return [(k, v) for k, v in headers if k not in _NOT_REPLAYED]


# --- stores ---------------------------------------------------------------------

class RedisStore:
    PREFIX = "spanlens:respcache:"

    def __init__(self, url: str):
        import redis

        self.url = url
        self._sync = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        # redis.asyncio clients belong to one event loop: one per loop.
        self._async: dict[int, object] = {}

    async def get(self, key: str) -> bytes | None:
        import redis.asyncio as aioredis

        loop = asyncio.get_running_loop()
        client = self._async.get(id(loop))
        if client is None:
            client = aioredis.Redis.from_url(self.url, socket_timeout=0.5, socket_connect_timeout=0.5)
            self._async = {id(loop): client}
        return await client.get(self.PREFIX + key)

    def put(self, key: str, value: bytes, ttl_s: int) -> None:
        self._sync.set(self.PREFIX + key, value, ex=ttl_s)

    def purge(self) -> int:
        return 0  # Redis expires entries on its own

    def clear(self) -> None:
        for name in self._sync.scan_iter(match=self.PREFIX + "*", count=500):
            self._sync.delete(name)


class DiskStore:
    """One SQLite file; `used` is refreshed for the keys hit, in one write every few
    seconds off the event loop, which makes eviction least-recently-used to within a moment.
    (A thread hop and an UPDATE on every hit was most of what a hit cost at c=1.)"""

    TOUCH_EVERY_S = 5.0

    def __init__(self, path: Path, max_bytes: int):
        self.path = path
        self.max_bytes = max_bytes
        self._local = threading.local()
        self._touched: dict[str, float] = {}
        self._touched_at = time.monotonic()
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.execute("CREATE TABLE IF NOT EXISTS entries (key TEXT PRIMARY KEY, value BLOB NOT NULL, "
                       "expires REAL NOT NULL, used REAL NOT NULL, size INTEGER NOT NULL)")
            db.execute("CREATE INDEX IF NOT EXISTS entries_used ON entries (used)")

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=2, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        return db

    async def get(self, key: str) -> bytes | None:
        # A primary-key read of a local file takes microseconds: cheaper inline than a thread hop.
        row = self._db().execute("SELECT value, expires FROM entries WHERE key = ?", (key,)).fetchone()
        now = time.time()
        if row is None or row[1] <= now:
            return None
        self._touched[key] = now
        if time.monotonic() - self._touched_at >= self.TOUCH_EVERY_S:
            self._touched_at = time.monotonic()
            touched, self._touched = self._touched, {}
            asyncio.get_running_loop().run_in_executor(None, self._touch, touched)
        return row[0]

    def _touch(self, touched: dict[str, float]) -> None:
        self._db().executemany("UPDATE entries SET used = ? WHERE key = ?", [(t, k) for k, t in touched.items()])

    def put(self, key: str, value: bytes, ttl_s: int) -> None:
        if len(value) > self.max_bytes:
            return
        now = time.time()
        db = self._db()
        db.execute("INSERT OR REPLACE INTO entries (key, value, expires, used, size) VALUES (?, ?, ?, ?, ?)",
                   (key, value, now + ttl_s, now, len(value)))
        self._evict(db)

    def _evict(self, db) -> None:
        if self._touched:  # recent hits first, so eviction does not take what was just used
            touched, self._touched = self._touched, {}
            self._touch(touched)
        total = db.execute("SELECT COALESCE(SUM(size), 0) FROM entries").fetchone()[0]
        if total <= self.max_bytes:
            return
        db.execute("DELETE FROM entries WHERE expires <= ?", (time.time(),))
        # Oldest-used first, down to 90 % so the next store does not evict again at once.
        target = int(self.max_bytes * 0.9)
        for key, size in db.execute("SELECT key, size FROM entries ORDER BY used").fetchall():
            if total <= target:
                break
            db.execute("DELETE FROM entries WHERE key = ?", (key,))
            total -= size

    def purge(self) -> int:
        return self._db().execute("DELETE FROM entries WHERE expires <= ?", (time.time(),)).rowcount

    def clear(self) -> None:
        self._db().execute("DELETE FROM entries")


_store = None
_store_lock = threading.Lock()


def get_store():
    global _store
    if _store is None:
        with _store_lock:
            if _store is None:
                if settings.REDIS_URL:
                    _store = RedisStore(settings.REDIS_URL)
                else:
                    _store = DiskStore(Path(settings.VAR_DIR) / "cache" / "responses.sqlite3",
                                       settings.RESPONSE_CACHE_MAX_MB * 1024 * 1024)
    return _store


def reset_store() -> None:
    """Forget the store so the next call picks one from settings again (tests)."""
    global _store
    _store = None


# --- the proxy's side -----------------------------------------------------------

async def lookup(request: CacheRequest) -> CachedResponse | None:
    if request.mode != "on":
        return None
    try:
        value = await get_store().get(request.key)
    except Exception:  # an unreachable cache is a miss, never a failed call
        return None
    return decode(value) if value else None


def remember(request: CacheRequest, entry, headers) -> None:
    """After the response has left: keep a complete 2xx answer for the TTL."""
    if not (200 <= entry.status_code < 300) or entry.truncated or entry.error_message or not entry.response_raw:
        return
    loop = asyncio.get_running_loop()
    loop.run_in_executor(None, _store_if_complete, request, entry.provider, entry.model, entry.stream,
                         entry.status_code, replay_headers(headers), entry.response_raw)


def _store_if_complete(request, provider, model, stream, status, headers, raw) -> None:
    from proxy.providers import ADAPTERS

    try:
        if stream:
            # A stream without its terminal event, or with an error event inside, is not an answer.
            parsed = ADAPTERS[provider].reassemble_stream(raw, model)
            if not parsed.complete or parsed.error:
                return
        get_store().put(request.key, encode(CachedResponse(status, headers, raw, stream)), request.ttl_s)
    except Exception:  # the cache is best effort: the call itself already succeeded
        return


def purge() -> int:
    return get_store().purge()


async def serve(send, cached: CachedResponse, entry, adapter, prepared) -> None:
    """Send a cached answer as the provider sent it, and fill the log entry for it."""
    entry.status_code = cached.status
    entry.stream = cached.stream
    entry.response_raw = cached.body
    headers = [*cached.headers, HIT]
    body = cached.body
    if cached.stream:
        if prepared.injected_stream_usage and hasattr(adapter, "is_usage_only_chunk"):
            # The stored stream carries the usage chunk; this client did not ask for it.
            from proxy.sse import event_data, split_events

            events, rest = split_events(body)
            body = b"".join(e + b"\n\n" for e in events
                            if not adapter.is_usage_only_chunk(event_data(e) or b"")) + rest
    else:
        headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": cached.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class CacheHitLog(PendingLog):
    """A call answered from the cache: it cost nothing, and saved what the provider
    would have charged for the same answer (None when the model has no price)."""

    __slots__ = ()

    def to_row(self) -> dict:
        row = super().to_row()
        row["cache_hit"] = True
        row["cost_saved_usd"] = row["cost_usd"]
        row["cost_usd"] = "0"
        return row

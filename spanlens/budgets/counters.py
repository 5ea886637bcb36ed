"""Budget counters: in Redis when REDIS_URL is set, so every web process counts the same
calls, otherwise in this process. Values are whole requests or USD in units of 1e-8 (the
request log's precision), so spend adds up exactly and corrections may be negative."""
from __future__ import annotations

import asyncio
import logging
import threading
import time

from django.conf import settings

log = logging.getLogger("spanlens.budgets")

PREFIX = "spanlens:budget:"
# All or nothing: refuse if any counter is at its limit, else count the call on every one.
# KEYS: counters; ARGV: limits, then TTLs, then amounts (each n long). Returns the 1-based
# index of the first counter at its limit, or 0 when the call was counted.
ADMIT_LUA = """
local n = #KEYS
local values = redis.call('MGET', unpack(KEYS))
for i = 1, n do
  if tonumber(values[i] or '0') >= tonumber(ARGV[i]) then return i end
end
for i = 1, n do
  if values[i] then
    redis.call('INCRBY', KEYS[i], ARGV[2 * n + i])
  else
    redis.call('SET', KEYS[i], ARGV[2 * n + i], 'EX', ARGV[n + i])
  end
end
return 0
"""


class LocalCounters:
    """One process's counters. The event loop admits, the writer thread corrects: one lock."""

    def __init__(self):
        self._values: dict[str, list] = {}  # key -> [value, expires at (epoch s)]
        self._lock = threading.Lock()
        self._next_prune = 0.0

    def admit_now(self, checks) -> int:
        now = time.time()
        values = self._values
        with self._lock:
            for i, (key, limit, _ttl, _amount) in enumerate(checks):
                slot = values.get(key)
                if slot is not None and slot[1] > now and slot[0] >= limit:
                    return i + 1
            for key, _limit, ttl, amount in checks:
                slot = values.get(key)
                if slot is None or slot[1] <= now:
                    values[key] = [amount, now + ttl]
                else:
                    slot[0] += amount
            if now > self._next_prune:
                self._prune(now)
        return 0

    async def admit(self, checks) -> int:
        return self.admit_now(checks)

    def add(self, key: str, amount: int, ttl: int) -> int:
        now = time.time()
        with self._lock:
            slot = self._values.get(key)
            if slot is None or slot[1] <= now:
                slot = self._values[key] = [0, now + ttl]
            slot[0] += amount
            return slot[0]

    def get_many(self, keys: list[str]) -> list[int | None]:
        now = time.time()
        with self._lock:
            return [slot[0] if (slot := self._values.get(k)) is not None and slot[1] > now else None for k in keys]

    def seed(self, key: str, value: int, ttl: int) -> None:
        now = time.time()
        with self._lock:
            slot = self._values.get(key)
            if slot is None or slot[1] <= now:
                self._values[key] = [value, now + ttl]

    def once(self, key: str, ttl: int) -> bool:
        """True the first time within ttl (an alert threshold already announced says False)."""
        now = time.time()
        with self._lock:
            slot = self._values.get(key)
            if slot is not None and slot[1] > now:
                return False
            self._values[key] = [1, now + ttl]
            return True

    def _prune(self, now: float) -> None:
        self._values = {k: v for k, v in self._values.items() if v[1] > now}
        self._next_prune = now + 60


class RedisCounters:
    """Shared counters; the hot path's admit is one EVALSHA of ADMIT_LUA (atomic across workers)."""

    def __init__(self, url: str):
        import redis

        self.url = url
        self._sync = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._sync_admit = self._sync.register_script(ADMIT_LUA)
        # redis.asyncio clients belong to the loop that made them.
        self._async: dict[int, tuple] = {}
        self._warned_at = 0.0

    def _client(self):
        loop = asyncio.get_running_loop()
        hit = self._async.get(id(loop))
        if hit is None or hit[0] is not loop:
            import redis.asyncio as aredis

            client = aredis.Redis.from_url(self.url, socket_timeout=1, socket_connect_timeout=1)
            hit = self._async[id(loop)] = (loop, client, client.register_script(ADMIT_LUA))
        return hit[2]

    async def admit(self, checks) -> int:
        keys = [c[0] for c in checks]
        args = [c[1] for c in checks] + [c[2] for c in checks] + [c[3] for c in checks]
        try:
            return int(await self._client()(keys=keys, args=args))
        except Exception as exc:
            # Redis away: serve the call (a budget must not take the proxy down with it).
            self._warn(exc)
            return 0

    def admit_now(self, checks) -> int:
        keys = [c[0] for c in checks]
        args = [c[1] for c in checks] + [c[2] for c in checks] + [c[3] for c in checks]
        return int(self._sync_admit(keys=keys, args=args))

    def add(self, key: str, amount: int, ttl: int) -> int:
        pipe = self._sync.pipeline()
        pipe.incrby(key, amount)
        pipe.expire(key, ttl)
        value, _ = pipe.execute()
        return int(value)

    def get_many(self, keys: list[str]) -> list[int | None]:
        if not keys:
            return []
        return [int(v) if v is not None else None for v in self._sync.mget(keys)]

    def seed(self, key: str, value: int, ttl: int) -> None:
        self._sync.set(key, value, ex=ttl, nx=True)

    def once(self, key: str, ttl: int) -> bool:
        return bool(self._sync.set(key, 1, ex=ttl, nx=True))

    def _warn(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._warned_at > 60:
            self._warned_at = now
            log.warning("Budget counters unavailable in Redis (%s): calls pass unchecked until it is back.", exc)


_counters = None
_counters_lock = threading.Lock()


def get_counters():
    global _counters
    if _counters is None:
        with _counters_lock:
            if _counters is None:
                _counters = RedisCounters(settings.REDIS_URL) if settings.REDIS_URL else LocalCounters()
    return _counters


"""Batches request-log rows off the proxy's hot path.

The proxy calls enqueue() (a deque append, no I/O); a daemon thread flushes
every LOG_FLUSH_INTERVAL_MS or LOG_BATCH_SIZE rows. A batch ClickHouse refuses
goes to the RequestFallback table so no row is lost; drain_fallback retries it.
When neither store takes a batch, it goes back to the front of the queue and is
retried with backoff: the thread never dies, and what it is doing is in status()
(shown by /health/deep and the dashboard).

In a web process (start_web_writer) each queued row is also appended to a local
spool (spool.py) and committed there once stored, so a SIGKILL loses nothing: the
next start replays what was not committed, skipping ids already stored.

With LOG_BUILD_PROCESS (the default for web processes) a row that made it into the
spool is not kept here at all: a child process (builder.py) builds the rows from the
spool into Arrow batches, and this thread only inserts those files, which chDB reads
without holding the GIL, and commits the spool. The event loop's cost of logging a
call is then one spool append.
"""
from __future__ import annotations

import atexit
import logging
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass

from django.conf import settings
from django.db import connections

log = logging.getLogger("spanlens.requestlog")
SWITCH_INTERVAL_S = 0.0005
# Row building pauses for YIELD_S after every ROW_SLICE_S of work (see write_batch).
ROW_SLICE_S = 0.001
YIELD_S = 0.0002
# Retry a batch neither store took after this, doubling up to the cap.
RETRY_FIRST_S = 0.5
RETRY_MAX_S = 30.0


class StoreUnavailable(Exception):
    """Neither ClickHouse nor the fallback table took a batch."""


@dataclass
class WriterStatus:
    alive: bool
    pending: int
    oldest_pending_age_s: float | None
    rows_written: int
    rows_to_fallback: int
    rows_dropped: int
    failures: int
    last_error: str | None
    last_error_age_s: float | None
    spool: dict | None = None
    rows_recovered: int = 0
    builder: dict | None = None
    # The store process (store.py) when the embedded log is opened in one.
    store: dict | None = None


class RequestLogWriter:
    def __init__(self, batch_size: int, interval_s: float):
        self.batch_size = batch_size
        self.interval_s = interval_s
        # (spool position or None, pending row) in arrival order.
        self._rows: deque[tuple] = deque()
        self.spool = None
        self.rows_recovered = 0
        # The log builder process (builder.py), when rows are built outside this process.
        self.builder = None
        # (spool position, monotonic time) of rows only in the spool, waiting for the builder.
        self._spooled: deque[tuple] = deque()
        # Spool segments before this one were written by a previous process: rows built
        # from them are checked against the stores before insert (a crash mid-insert).
        self._replay_before: int | None = None
        self._purged_at = 0.0
        self._wake = threading.Event()
        self._flush_lock = threading.Lock()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self.max_pending = settings.LOG_QUEUE_MAX_ROWS
        self.rows_written = 0
        self.rows_to_fallback = 0
        # Rows refused at enqueue because the queue was full (both stores down for long).
        self.rows_dropped = 0
        self.failures = 0
        self._consecutive_failures = 0
        self.last_error: str | None = None
        self._last_error_at: float | None = None
        # When the oldest row still queued arrived (monotonic); None while empty.
        self._oldest_at: float | None = None

    def enqueue(self, row: dict) -> None:
        if len(self._rows) + len(self._spooled) >= self.max_pending:
            # Memory stays bounded; the count says what was lost (health, dashboard).
            self.rows_dropped += 1
            return
        position = None
        if self.spool is not None:
            try:
                position = self.spool.append(_spool_record(row))
            except Exception as exc:  # a full disk must not fail the call; the row stays queued
                self.failures += 1
                self.last_error = f"spool: {type(exc).__name__}: {exc}"[:500]
                self._last_error_at = time.monotonic()
        if position is not None and self.builder is not None:
            self._spooled.append((position, time.monotonic()))
            if self._thread is None:
                self._start()
            elif self.builder.resting:
                self._wake.set()  # the writer starts the builder now, not at its next round
            return
        if not self._rows:
            self._oldest_at = time.monotonic()
        self._rows.append((position, row))
        if self._thread is None:
            self._start()
        if len(self._rows) >= self.batch_size:
            self._wake.set()

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is None:
                # Building rows is Python work that holds the GIL in slices of the switch
                # interval (5 ms by default); the event loop waits up to a slice to answer.
                # 0.5 ms slices cut that wait from ~5-16 ms to ~0.7 ms p95 during a flush,
                # and the flush takes no longer (`make bench`, profile.md).
                if self.builder is None:
                    sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL_S))
                self._thread = threading.Thread(target=self._loop, name="spanlens-log-writer", daemon=True)
                self._thread.start()
                atexit.register(self.stop)

    def _loop(self) -> None:
        from spanlens.requestlog.priority import lower_this_thread

        lower_this_thread(settings.LOG_WORKER_NICE)
        while not self._stopping:
            self._wake.wait(self._retry_wait() if self._consecutive_failures else self.interval_s)
            self._wake.clear()
            try:
                self.flush_now()
                self.insert_built()
            except Exception:  # both record it; nothing may end this thread
                pass
            finally:
                # Fallback writes and hooks open a DB connection in this thread; close it
                # so idle connections don't pile up (and databases can be dropped in tests).
                try:
                    connections.close_all()
                except Exception:
                    log.debug("closing the writer's database connections failed", exc_info=True)
                self._release_memory()

    def _release_memory(self) -> None:
        every = settings.CHDB_MEMORY_PURGE_S
        if not every or time.monotonic() - self._purged_at < every:
            return
        self._purged_at = time.monotonic()
        from spanlens.requestlog.engine import engine_if_open

        engine = engine_if_open()
        if engine is not None:
            try:
                engine.release_memory()
            except Exception:  # an engine that cannot purge still serves
                log.debug("could not release chDB memory", exc_info=True)

    def _retry_wait(self) -> float:
        return min(RETRY_FIRST_S * 2 ** (self._consecutive_failures - 1), RETRY_MAX_S)

    def flush_now(self) -> int:
        """Write everything queued so far; returns the number of rows handled.

        Raises StoreUnavailable when neither store took the batch: its rows are back
        at the front of the queue, in order, for the next try.
        """
        with self._flush_lock:
            batch = []
            oldest_at = self._oldest_at
            while self._rows and len(batch) < 50_000:
                batch.append(self._rows.popleft())
            if not batch:
                return 0
            self._oldest_at = time.monotonic() if self._rows else None
            try:
                write_batch([row for _, row in batch], self)
            except Exception as exc:
                self._rows.extendleft(reversed(batch))
                self._oldest_at = oldest_at
                self._record_failure(exc)
                raise StoreUnavailable(str(exc)) from exc
            self._consecutive_failures = 0
            positions = [p for p, _ in batch if p is not None]
            if positions and self.spool is not None:
                try:
                    self.spool.commit(max(positions))
                except Exception:  # the rows are stored; at worst a replay skips them as duplicates
                    log.exception("could not commit the spool position")
            return len(batch)

    def insert_built(self) -> int:
        """Insert the batches the builder finished, oldest first, committing the spool
        after each; returns the rows stored. Raises StoreUnavailable like flush_now."""
        if self.builder is None:
            return 0
        from spanlens.requestlog.builder import position_of, sidecar_of

        self.builder.ensure_running(rows_waiting=bool(self._spooled))
        stored = 0
        with self._flush_lock:
            for group in _same_columns(self.builder.ready()):
                position = position_of(group[-1])
                try:
                    stored += write_built(group, self, replay_before=self._replay_before)
                except Exception as exc:
                    self._record_failure(exc)
                    raise StoreUnavailable(str(exc)) from exc
                self._consecutive_failures = 0
                try:
                    self.spool.commit(position)
                except Exception:  # the rows are stored; at worst a replay skips them as duplicates
                    log.exception("could not commit the spool position")
                for path in group:
                    path.unlink(missing_ok=True)
                    sidecar_of(path).unlink(missing_ok=True)
                while self._spooled and self._spooled[0][0] <= position:
                    self._spooled.popleft()
        return stored

    def recover(self) -> int:
        """Queue what this process's spool slot (and any slot whose owner died) holds
        uncommitted, minus rows already stored; returns how many rows were queued."""
        if self.spool is None:
            return 0
        queued = 0
        if self.builder is not None:
            # The builder starts from the last committed position: the previous owner's
            # rows come through it, checked against the stores before insert.
            own = []
            self._replay_before = self.spool.first_segment
        else:
            own = self.spool.leftovers()
        for position, row in _not_yet_stored(own):
            self._rows.append((position, _from_spool_record(row)))
            queued += 1
        if own and not queued:  # every leftover was stored before the crash
            self.spool.commit(own[-1][0])
        for slot, records in self.spool.adopt_orphans():
            for row in _not_yet_stored([(None, r) for r in records]):
                # Re-spooled under our own slot first, so the orphan can go at once.
                self.enqueue(_from_spool_record(row[1]))
                queued += 1
            self.spool.forget_slot(slot)
        if queued:
            self._oldest_at = self._oldest_at or time.monotonic()
            log.warning("replaying %d request-log rows a previous process had not stored", queued)
        self.rows_recovered += queued
        return queued

    def _record_failure(self, exc: Exception) -> None:
        self.failures += 1
        self._consecutive_failures += 1
        self.last_error = f"{type(exc).__name__}: {exc}"[:500]
        self._last_error_at = time.monotonic()
        log.error("request-log rows kept in memory, retrying in %.1fs: %s", self._retry_wait(), self.last_error)

    def flush(self, timeout: float = 10.0) -> None:
        """Block until rows queued before this call are written (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while (self._rows or self._spooled) and time.monotonic() < deadline:
            try:
                self.flush_now()
                self.insert_built()
            except StoreUnavailable:
                time.sleep(min(self._retry_wait(), max(deadline - time.monotonic(), 0)))
                continue
            if self._spooled and not self._rows:
                time.sleep(0.005)  # the builder is still at it
        # A batch the thread took just before we looked finishes under the lock.
        with self._flush_lock:
            pass

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping = True
        self._wake.set()
        self.flush(timeout)
        if self.builder is not None:
            self.builder.stop()

    @property
    def pending(self) -> int:
        return len(self._rows) + len(self._spooled)

    def status(self) -> WriterStatus:
        now = time.monotonic()
        oldest = self._oldest_at if self._rows else None
        if self._spooled:
            try:
                first = self._spooled[0][1]
                oldest = min(oldest, first) if oldest is not None else first
            except IndexError:  # stored meanwhile
                pass
        builder = None
        if self.builder is not None:
            alive = self.builder.alive
            builder = {"alive": alive, "resting": self.builder.rested,
                       "restarts": self.builder.restarts, "batches_waiting": len(self.builder.ready())}
        return WriterStatus(
            # Not started yet (no traffic) counts as alive: it starts on the first row. So does
            # a builder resting for want of calls.
            alive=(self._thread is None or self._thread.is_alive())
            and (builder is None or builder["alive"] or builder["resting"]),
            pending=self.pending,
            oldest_pending_age_s=round(now - oldest, 1) if oldest is not None else None,
            rows_written=self.rows_written,
            rows_to_fallback=self.rows_to_fallback,
            rows_dropped=self.rows_dropped,
            failures=self.failures,
            last_error=self.last_error,
            last_error_age_s=round(now - self._last_error_at, 1) if self._last_error_at else None,
            spool=self.spool.status() if self.spool is not None else None,
            rows_recovered=self.rows_recovered,
            builder=builder,
            store=_store_status(),
        )


def _store_status() -> dict | None:
    from spanlens.requestlog.engine import engine_if_open

    engine = engine_if_open()
    return engine.status() if hasattr(engine, "status") else None


def write_batch(batch: list[dict], writer: RequestLogWriter | None = None) -> None:
    from spanlens.core.models import RequestFallback
    from spanlens.requestlog import queries

    rows = []
    slice_start = time.monotonic()
    for item in batch:
        if isinstance(item, dict):
            rows.append(item)
            continue
        # A busy thread only lends the GIL to the event loop one switch interval at a
        # time, and takes it back at the loop's next I/O call, so a whole flush's row
        # building (~25-60 ms) stalled requests for about as long. A real sleep leaves
        # the loop the GIL outright: max added latency at c=1 44-45 ms -> 8-11 ms (profile.md).
        if time.monotonic() - slice_start > ROW_SLICE_S:
            time.sleep(YIELD_S)
            slice_start = time.monotonic()
        try:
            rows.append(item.to_row())
        except Exception as exc:  # a parsing bug must cost neither this call's row nor the batch
            log.exception("could not build a request-log row; writing what is known")
            try:
                from proxy.logentry import partial_row

                rows.append(partial_row(item, exc))
            except Exception:
                log.exception("could not even build a partial request-log row; skipped")
    batch = rows
    try:
        queries.insert_requests(batch)
        if writer:
            writer.rows_written += len(batch)
    except Exception as exc:  # ClickHouse down, schema missing, bad row…
        log.warning("ClickHouse refused %d rows, queued to fallback: %s", len(batch), exc)
        try:
            RequestFallback.objects.bulk_create(
                [RequestFallback(row=storable(row), last_error=storable(str(exc)[:2000])) for row in batch], batch_size=500
            )
        except Exception as fallback_exc:
            # Both stores refused: hand the built rows back so the writer retries them.
            fallback_exc.rows = batch
            raise
        if writer:
            writer.rows_to_fallback += len(batch)
        return
    for hook in _after_write:
        try:
            hook(batch)
        except Exception:  # e.g. trace linking; the rows themselves are safe
            log.exception("after-write hook %r failed", hook)


def write_built(paths: list, writer: RequestLogWriter | None = None, *, replay_before: int | None = None) -> int:
    """Store batch files of the builder that share their columns, in one insert (each
    insert costs ClickHouse milliseconds of CPU whatever its size): into ClickHouse, else
    the fallback table. Returns the rows stored; raises when neither store took them.

    What this needs of a batch is in its sidecar (builder.write_batch_file): chDB reads
    the Arrow file itself, and this process loads pyarrow only to move a refused batch
    into the fallback table."""
    from spanlens.core.models import RequestFallback
    from spanlens.requestlog import queries
    from spanlens.requestlog.builder import read_sidecar

    sides = [read_sidecar(path) for path in paths]
    names = sides[0]["columns"]
    exclude: set[str] = set()
    if replay_before is not None:
        replayed = [side for side in sides if side["first"][0] < replay_before]
        if replayed:
            exclude = _stored_of_batches(replayed)
            if writer:
                writer.rows_recovered += sum(side["rows"] for side in replayed) - len(exclude)
    count = sum(side["rows"] for side in sides) - len(exclude)
    if not count:
        return 0
    try:
        queries.insert_request_files([str(p) for p in paths], names, exclude_ids=sorted(exclude))
        if writer:
            writer.rows_written += count
    except Exception as exc:
        log.warning("ClickHouse refused %d rows, queued to fallback: %s", count, exc)
        rows = [r for r in _rows_of_files(paths) if r.get("id") not in exclude]
        RequestFallback.objects.bulk_create(
            [RequestFallback(row=storable(row), last_error=storable(str(exc)[:2000])) for row in rows],
            batch_size=500,
        )
        if writer:
            writer.rows_to_fallback += len(rows)
        return len(rows)
    if _after_write:
        written = [r for side in sides for r in side["written"] if r.get("id") not in exclude]
        for hook in _after_write if written else ():
            try:
                hook(written)
            except Exception:
                log.exception("after-write hook %r failed", hook)
    return count


def _rows_of_files(paths: list) -> list[dict]:
    import pyarrow as pa

    rows: list[dict] = []
    for path in paths:
        with pa.memory_map(str(path)) as source:
            rows.extend(pa.ipc.open_file(source).read_all().to_pylist())
    return rows


def _same_columns(paths: list) -> list[list]:
    """Consecutive batch files with the same columns, in order (one insert each)."""
    from spanlens.requestlog.builder import read_sidecar

    groups: list[list] = []
    last = None
    for path in paths:
        names = tuple(read_sidecar(path)["columns"])
        if groups and names == last and len(groups[-1]) < 64:
            groups[-1].append(path)
        else:
            groups.append([path])
        last = names
    return groups


def _stored_of_batches(sides: list[dict]) -> set[str]:
    """Ids of replayed batches that ClickHouse or the fallback table already holds."""
    from datetime import datetime, timedelta, timezone

    from spanlens.core.models import RequestFallback
    from spanlens.requestlog import queries

    ids = [r["id"] for side in sides for r in side["written"] if r.get("id")]
    if not ids:
        return set()
    try:
        oldest = min((side["oldest"] for side in sides if side.get("oldest")), default=None)
        since = (datetime.strptime(oldest[:19], "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc)
                 - timedelta(minutes=5)) if oldest else datetime(1970, 1, 1, tzinfo=timezone.utc)
        stored = queries.stored_request_ids(ids, since=since)
        stored |= {str(v) for v in RequestFallback.objects.filter(row__id__in=ids).values_list("row__id", flat=True)}
    except Exception as exc:  # stores down: replay everything rather than lose rows
        log.warning("could not check replayed rows against the stores (%s); some may be written twice", exc)
        return set()
    return stored


def storable(value):
    """The row with NUL characters replaced: PostgreSQL's jsonb refuses \\u0000."""
    if isinstance(value, str):
        return value.replace("\x00", "\u2400") if "\x00" in value else value
    if isinstance(value, dict):
        return {k: storable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [storable(v) for v in value]
    return value


_after_write: list = []


def register_after_write(hook) -> None:
    """Call hook(rows) after each batch is in ClickHouse (e.g. to link spans to requests)."""
    if hook not in _after_write:
        _after_write.append(hook)


_writer: RequestLogWriter | None = None


def _spool_record(row) -> dict:
    if isinstance(row, dict):
        return {"row": row}
    from proxy.logentry import to_spool

    return {"pending": to_spool(row)}


def _from_spool_record(record: dict):
    if "row" in record:
        return record["row"]
    from proxy.logentry import from_spool

    return from_spool(record["pending"])


def _record_id(record: dict) -> tuple[str | None, float | None]:
    if "row" in record:
        return record["row"].get("id"), None
    return record["pending"].get("id"), record["pending"].get("created_at")


def _not_yet_stored(items: list[tuple]) -> list[tuple]:
    """Drop replayed records whose row ClickHouse or the fallback table already has."""
    from datetime import datetime, timedelta, timezone

    from spanlens.core.models import RequestFallback
    from spanlens.requestlog import queries

    ids = {}
    for position, record in items:
        row_id, created = _record_id(record)
        if row_id:
            ids[row_id] = created
    if not ids:
        return items
    try:
        times = [t for t in ids.values() if t]
        since = datetime.fromtimestamp(min(times), timezone.utc) - timedelta(minutes=5) if times else \
            datetime(1970, 1, 1, tzinfo=timezone.utc)
        stored = queries.stored_request_ids(list(ids), since=since)
        stored |= {str(v) for v in RequestFallback.objects.filter(row__id__in=list(ids)).values_list("row__id", flat=True)}
    except Exception as exc:  # stores down: replay everything rather than lose rows
        log.warning("could not check replayed rows against the stores (%s); some may be written twice", exc)
        return items
    return [(p, r) for p, r in items if _record_id(r)[0] not in stored]


def start_web_writer() -> RequestLogWriter:
    """The web process's writer with its crash spool, after replaying leftovers."""
    writer = get_writer()
    from spanlens.requestlog.engine import use_store_process

    use_store_process()
    if writer.spool is None and settings.LOG_SPOOL_MAX_MB > 0:
        from spanlens.requestlog.spool import Spool

        writer.spool = Spool(settings.VAR_DIR / "spool", settings.LOG_SPOOL_MAX_MB * 1024 * 1024)
        if settings.LOG_BUILD_PROCESS:
            from spanlens.requestlog.builder import BuilderProcess

            writer.builder = BuilderProcess(writer.spool.dir).start()
        try:
            writer.recover()
        except Exception:
            log.exception("spool replay failed; its files stay for the next start")
        if writer.pending or writer.builder is not None:
            # With a builder, a predecessor's rows arrive as batch files: take them in at once.
            writer._start()
    return writer


def get_writer() -> RequestLogWriter:
    global _writer
    if _writer is None:
        _writer = RequestLogWriter(settings.LOG_BATCH_SIZE, settings.LOG_FLUSH_INTERVAL_MS / 1000)
    return _writer

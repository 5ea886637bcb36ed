"""The log builder: a child process that turns one web process's spooled calls into
insert-ready Arrow batches.

Building a row (parsing or reassembling the response, cost, key masking, the security
scan) is 0.2-0.4 ms of pure Python per call; in the web process that time is taken
from the event loop, because it holds the GIL. Here it runs beside it, on another core
when there is one: the web process only appends each call to its spool (spool.py) and
inserts the finished batches, which chDB reads from the file without the GIL.

The builder reads the spool slot from the last committed position on, writes each
batch as `<segment>-<offset>.arrow` (the spool position after its last record, so the
web process knows what to commit once the rows are stored) into its own directory, and
exits when its parent does, or after LOG_BUILDER_IDLE_EXIT_S without a call (the web process
starts it again when rows wait for it). It never opens ClickHouse: chDB's folder belongs to the
web process. `python -m spanlens.requestlog.builder <slot dir> <out dir> <parent pid>`.
"""
from __future__ import annotations

import gc
import logging
import marshal
import os
import sys
import time
from pathlib import Path

log = logging.getLogger("spanlens.requestlog")

_HEADER_SIZE = 4
# The spool is read this much at a time: a batch of ordinary calls (2,000 × 2-4 KB) in one
# read, without holding tens of megabytes of it in memory while its rows are built.
READ_BYTES = 8 * 1024 * 1024
# Columns a row may leave out (a partial row, an older row shape) and what they mean then.
DEFAULTS = {
    "prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0, "cache_read_tokens": 0,
    "cache_write_tokens": 0, "flags": "[]", "response_flags": "[]", "truncated": False, "error_message": "",
    "cache_hit": False, "sample_rate": 1.0, "origin": "", "usage_clamped": False, "stream": False,
    "log_body": "full", "method": "POST", "cost_source": "unknown", "latency_ms": 0, "proxy_overhead_ms": 0,
    "status_code": 0, "request_body": "", "response_body": "",
}


def batch_name(position: tuple[int, int]) -> str:
    return f"{position[0]:08d}-{position[1]:012d}.arrow"


def position_of(path: Path) -> tuple[int, int]:
    segment, _, offset = path.stem.partition("-")
    return int(segment), int(offset)


def uniform(rows: list[dict]) -> list[dict]:
    """Every row with the same columns, so the batch is one Arrow table."""
    keys: dict[str, None] = {}
    for row in rows:
        keys.update(dict.fromkeys(row))
    if all(len(row) == len(keys) for row in rows):
        return rows
    return [{k: row[k] if k in row else DEFAULTS.get(k) for k in keys} for row in rows]


# What the web process's after-write hooks read of a stored row (dashboard.live announces
# the ids, spanlens.traces links a traced call to its span): carried in the batch's
# sidecar so the web process never has to open the Arrow file (nor load pyarrow) itself.
ANNOUNCED = ("id", "organization_id")
LINKED = ("project_id", "trace_id", "span_id", "model", "prompt_tokens", "completion_tokens", "total_tokens",
          "cost_usd")


def sidecar_of(path: Path) -> Path:
    return path.with_suffix(".json")


def write_batch_file(out_dir: Path, position: tuple[int, int], rows: list[dict], first: tuple[int, int]) -> Path:
    """An Arrow IPC file and its sidecar (columns, row count, first spool position, what the
    after-write hooks need of each row). Each is renamed into place only when complete, the
    sidecar first: a batch is ready once its .arrow file exists."""
    import orjson
    import pyarrow as pa

    rows = uniform(rows)
    table = pa.Table.from_pylist(rows)
    final = out_dir / batch_name(position)
    side = {
        "columns": table.schema.names, "rows": len(rows), "first": list(first),
        # DateTime64 text sorts as it reads; a replay looks for its ids from this time on.
        "oldest": min((str(r["created_at"]) for r in rows if r.get("created_at")), default=None),
        "written": [{k: r.get(k) for k in (ANNOUNCED + LINKED if r.get("trace_id") and r.get("span_id") else ANNOUNCED)}
                    for r in rows],
    }
    tmp = out_dir / (final.name + ".json.tmp")
    tmp.write_bytes(orjson.dumps(side, default=str))
    os.replace(tmp, sidecar_of(final))
    tmp = out_dir / (final.name + ".tmp")
    with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    os.replace(tmp, final)
    return final


def read_sidecar(path: Path) -> dict:
    import orjson

    return orjson.loads(sidecar_of(Path(path)).read_bytes())


class SpoolReader:
    """Complete records of a spool slot after a position, as they are appended."""

    def __init__(self, slot: Path, after: tuple[int, int]):
        self.slot = slot
        self.segment, self.offset = after
        if self.segment == 0:
            self.segment = 1  # (0, 0): nothing committed yet, segments count from 1

    def _segments(self) -> list[int]:
        return sorted(int(p.stem) for p in self.slot.glob("*.spool") if p.stem.isdecimal())

    def read(self, limit: int) -> tuple[list[tuple[tuple[int, int], dict]], bool]:
        """Up to `limit` (position, record) pairs; and whether more are already waiting."""
        out: list = []
        want = READ_BYTES
        while len(out) < limit:
            segments = self._segments()
            later = [n for n in segments if n > self.segment]
            if self.segment not in segments:
                if not later:
                    return out, False
                self.segment, self.offset = later[0], 0
                continue
            try:
                with open(self.slot / f"{self.segment:08d}.spool", "rb") as f:
                    f.seek(self.offset)
                    data = f.read(want)
            except FileNotFoundError:
                continue
            full, want = len(data) == want, READ_BYTES
            at = 0
            while len(out) < limit and at + _HEADER_SIZE <= len(data):
                length = int.from_bytes(data[at:at + _HEADER_SIZE], "little")
                end = at + _HEADER_SIZE + length
                if end > len(data):
                    break  # being written right now, or torn by a crash
                try:
                    record = marshal.loads(data[at + _HEADER_SIZE:end])
                except (EOFError, ValueError, TypeError):
                    log.error("spool %s: an unreadable record at %d skipped", self.slot, self.offset + at)
                else:
                    out.append(((self.segment, self.offset + end), record))
                at = end
            self.offset += at
            if len(out) >= limit:
                return out, True
            if full:
                # The read stopped at its size, not at the end of the segment: read on
                # (the whole of a record larger than a read, when that is what stopped it).
                if at == 0:
                    want = _HEADER_SIZE + int.from_bytes(data[:_HEADER_SIZE], "little")
                continue
            if later:
                # A newer segment existed before this one was read, so this one was
                # complete: what is left is the torn tail of a killed writer.
                if at < len(data):
                    log.warning("spool %s: a torn last record (%d bytes) ignored", self.slot, len(data) - at)
                self.segment, self.offset = later[0], 0
                continue
            return out, False
        return out, True


def build(record: dict) -> dict:
    from proxy.logentry import partial_row
    from spanlens.requestlog.writer import _from_spool_record

    item = _from_spool_record(record)
    if isinstance(item, dict):
        return item
    try:
        return item.to_row()
    except Exception as exc:  # a parsing bug must not cost this call's row
        log.exception("could not build a request-log row; writing what is known")
        return partial_row(item, exc)


def run(slot: Path, out_dir: Path, parent: int) -> None:
    from django.conf import settings
    from django.db import connections

    from spanlens.requestlog.spool import Spool

    existing = sorted(out_dir.glob("*.arrow"))
    after = max([Spool._read_checkpoint(slot)] + [position_of(p) for p in existing])
    reader = SpoolReader(slot, after)
    poll = max(settings.LOG_FLUSH_INTERVAL_MS / 2000, 0.005)
    batch = max(settings.LOG_BATCH_SIZE, 1)
    rest_after = settings.LOG_BUILDER_IDLE_EXIT_S
    last_record_at = time.monotonic()
    while os.getppid() == parent:
        records, more = reader.read(batch)
        if not records and rest_after > 0 and time.monotonic() - last_record_at >= rest_after:
            # Nothing to build for a while: exit (status 0) rather than hold a second
            # interpreter. A call spooled meanwhile is not lost: the web process sees rows
            # waiting and starts a new builder, which reads on from the committed position.
            log.info("no calls for %.0f s: the request-log builder rests until the next one", rest_after)
            return
        if records:
            last_record_at = time.monotonic()
            rows = []
            for _, record in records:
                try:
                    rows.append(build(record))
                except Exception:
                    log.exception("could not even build a partial request-log row; skipped")
            write_batch_file(out_dir, records[-1][0], rows, records[0][0])
            connections.close_all()
        if not more and _parent_gone(poll):
            return


def _parent_gone(timeout: float) -> bool:
    """Wait up to timeout; True when the web process is gone (its end of stdin closed)."""
    import select

    readable, _, _ = select.select([0], [], [], timeout)
    return bool(readable) and not os.read(0, 1)


class BuilderProcess:
    """The web process's handle on its builder: starts it, restarts it if it dies, and
    lists the batches it finished."""

    def __init__(self, slot: Path):
        self.slot = slot
        self.out_dir = slot / f"built-{os.getpid()}"
        self.proc = None
        self.restarts = 0
        # True once the builder exited on its own for want of calls (LOG_BUILDER_IDLE_EXIT_S);
        # the next call starts it again.
        self.resting = False
        self._started_at = 0.0
        # Batches of a killed predecessor are rebuilt from the spool: its builder may
        # still be finishing one, and two copies of a batch must never both be inserted.
        for old in slot.glob("built-*"):
            if old != self.out_dir:
                for path in old.glob("*"):
                    path.unlink(missing_ok=True)
                try:
                    old.rmdir()
                except OSError:
                    pass
        self.out_dir.mkdir(parents=True, exist_ok=True)

    def start(self) -> "BuilderProcess":
        import subprocess

        self._started_at = time.monotonic()
        self.resting = False
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "spanlens.requestlog.builder", str(self.slot), str(self.out_dir), str(os.getpid())],
            # stdin stays open for the builder's life: EOF there means this process is gone.
            stdin=subprocess.PIPE, close_fds=True,
        )
        return self

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def rested(self) -> bool:
        """It exited on its own for want of calls (status 0, as run() returns when idle)."""
        return self.proc is not None and not self.alive and self.proc.returncode == 0

    def ensure_running(self, rows_waiting: bool = True) -> None:
        """Start a new builder if the last one died (at most once a second), or if it rested
        and rows wait for it."""
        if self.alive:
            return
        if self.rested:
            self.resting = not rows_waiting
            if rows_waiting:
                self.start()
            return
        if time.monotonic() - self._started_at > 1.0:
            log.error("the request-log builder exited (%s); starting a new one",
                      self.proc.returncode if self.proc else "never started")
            self.restarts += 1
            self.start()

    def ready(self) -> list[Path]:
        return sorted(self.out_dir.glob("*.arrow"))

    def stop(self) -> None:
        if self.alive:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except Exception:
                self.proc.kill()


class _WithoutPandas:
    """pyarrow imports numpy when it loads and looks for pandas the first time it converts
    Python objects (from_pylist); both are optional to it, and nothing here uses them:
    pandas would cost this process ~50 MB and numpy ~16 MB, so the builder answers that
    neither is installed."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        if name.partition(".")[0] in ("pandas", "numpy"):
            raise ModuleNotFoundError(f"{name} is not loaded in the log builder", name=name)
        return None


def main() -> None:
    sys.meta_path.insert(0, _WithoutPandas())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spanlens.settings")
    import django

    django.setup()
    import pyarrow as pa

    from spanlens.security import detectors  # noqa: F401  (loaded once, before the freeze)

    # Arrow's own allocator (jemalloc or mimalloc) keeps what a batch freed for the next one:
    # with malloc the builder peaked ~13 MB lower under `make bench`'s load, for +0.4 µs a row.
    pa.set_memory_pool(pa.system_memory_pool())

    gc.freeze()  # start-up objects live for good: the collector need not scan them
    from django.conf import settings

    from spanlens.requestlog.priority import lower_this_thread

    lower_this_thread(settings.LOG_WORKER_NICE)  # the builder is one thread: the whole process
    slot, out_dir, parent = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    try:
        run(slot, out_dir, parent)
    except BrokenPipeError:
        pass


if __name__ == "__main__":
    main()

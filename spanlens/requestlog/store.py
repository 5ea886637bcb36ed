"""The embedded request log's own process: chDB opened there, the web process's SQL sent to it.

chDB serves its folder to one process, and whichever process opens it maps chDB's library
(~90 MB) and keeps its working memory (inserts, merges, reads: tens of MB more) for as long
as it lives. In the embedded default that process used to be the web process, so an idle
server held it all. With CHDB_STORE_PROCESS (the default while rows are built in the log
builder) the web process starts this small process instead (Python, orjson, chDB; no
Django) and runs every request-log statement through it over a Unix socket: the same SQL,
parameters, settings and errors as `engine.ChdbEngine`, which is what runs here. After
CHDB_STORE_IDLE_EXIT_S without a statement the web process asks it to exit, and the next
read or insert starts it again (~0.3 s): an idle install then holds the web process alone.

Wire format, both ways: a JSON object and a byte string (a result), each after its
4-byte big-endian length. A connection's first
message carries the token the store was given on its standard input (an abstract socket
has no file permissions: any local user could otherwise read the log). Standard input
stays open for the store's life: EOF there means the web process is gone, and the store
exits rather than hold the folder against its successor.

`python -m spanlens.requestlog.store <chdb path> <database> <nice>`, then a line of JSON on
standard input: {"address": ..., "token": ...}.
"""
from __future__ import annotations

import hmac
import logging
import os
import secrets
import socket
import struct
import sys
import threading
import time

import orjson

log = logging.getLogger("spanlens.requestlog")

_LENGTH = struct.Struct(">I")
# A store that has not answered its start in this long is reported as unavailable (a large
# folder opens in well under a second here; a predecessor still closing it can take longer).
START_TIMEOUT_S = 30.0
# Statements whose repetition cannot change the log: retried once when the store died under them.
_READS = ("SELECT", "WITH", "SHOW", "EXISTS", "DESCRIBE", "EXPLAIN")


def _send(sock: socket.socket, message: dict, data: bytes = b"") -> None:
    head = orjson.dumps(message, default=str)
    sock.sendall(b"".join((_LENGTH.pack(len(head)), head, _LENGTH.pack(len(data)), data)))


def _receive(sock: socket.socket) -> tuple[dict, bytes]:
    head = orjson.loads(_exactly(sock, _LENGTH.unpack(_exactly(sock, _LENGTH.size))[0]))
    return head, _exactly(sock, _LENGTH.unpack(_exactly(sock, _LENGTH.size))[0])


def _exactly(sock: socket.socket, size: int) -> bytes:
    parts, left = [], size
    while left:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            raise EOFError("the request-log store closed the connection")
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def _address() -> str:
    # Linux's abstract namespace: no file to clean up after a crash, no path-length limit.
    if sys.platform.startswith("linux"):
        return "\0spanlens-store-" + secrets.token_hex(8)
    import tempfile

    return os.path.join(tempfile.mkdtemp(prefix="spanlens-store-"), "s")


# --- The store process ---------------------------------------------------------

def serve(path: str, database: str, address: str, token: str) -> None:
    from spanlens.requestlog.engine import ChdbEngine, ClickHouseUnavailable

    try:
        engine = ChdbEngine(path, database)
    except Exception as exc:  # the web process reports it (a folder held by another process, ...)
        print("error " + orjson.dumps({"unavailable": isinstance(exc, ClickHouseUnavailable),
                                       "error": str(exc)[:2000]}).decode(), flush=True)
        return
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(address)
    listener.listen(64)
    done = threading.Event()

    def parent_gone():
        sys.stdin.buffer.read()  # returns at EOF: the web process exited or was killed
        done.set()
        _wake(address)

    threading.Thread(target=parent_gone, daemon=True).start()
    print("ready", flush=True)
    # Nobody reads standard output after this line: anything written later goes to standard
    # error instead, so a full pipe can never block the store.
    os.dup2(2, 1)
    while not done.is_set():
        try:
            conn, _ = listener.accept()
        except OSError:
            break
        if done.is_set():
            conn.close()
            break
        threading.Thread(target=_serve_connection, args=(conn, engine, token, done, address), daemon=True).start()
    listener.close()
    # A statement still running holds the engine's lock: the folder closes after it.
    with engine._lock:
        engine.close()


def _wake(address: str) -> None:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect(address)
    except OSError:
        pass


def _serve_connection(conn: socket.socket, engine, token: str, done: threading.Event, address: str) -> None:
    from spanlens.requestlog.engine import ClickHouseUnavailable

    with conn:
        try:
            hello, _ = _receive(conn)
            if not hmac.compare_digest(str(hello.get("token", "")), token):
                return
            _send(conn, {"ok": True})
            while True:
                message, _ = _receive(conn)
                if message.get("op") == "exit":
                    _send(conn, {"ok": True})
                    done.set()
                    _wake(address)
                    return
                data = b""
                try:
                    result = engine._run(message["sql"], message.get("fmt") or "CSV", message.get("params"))
                    data = result.bytes() if result is not None else b""
                    reply = {"ok": True}
                except Exception as exc:  # the engine's own errors, sent back as they are
                    reply = {"ok": False, "unavailable": isinstance(exc, ClickHouseUnavailable), "error": str(exc)}
                _send(conn, reply, data)
        except (EOFError, OSError, ValueError):
            return


def main() -> None:
    path, database, nice = sys.argv[1], sys.argv[2], int(sys.argv[3])
    # The address and token come on standard input: an abstract address starts with a NUL
    # (no argument can hold one), and a token in the arguments would show in `ps`.
    given = orjson.loads(sys.stdin.readline())
    import signal

    # Ctrl-C in a terminal (or a SIGTERM to the process group) reaches this process too: the
    # web process still inserts what it holds as it stops, so this one goes when the web
    # process does (EOF on standard input), not before.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    address, token = given["address"], given["token"]
    if nice > 0 and hasattr(os, "nice"):
        # Inserts and merges can wait a few milliseconds; the web process's calls cannot.
        # chDB's pool threads inherit this from the thread that opens the folder.
        try:
            os.nice(min(nice, 19))
        except OSError:
            pass
    serve(path, database, address, token)
    sys.stdout.flush()
    # Not through the interpreter's shutdown: the thread watching standard input is still
    # in a read of it, which finalization cannot get past. The folder is closed by now.
    os._exit(0)


# --- The web process's side ------------------------------------------------------

_background = threading.local()


def mark_background(on: bool) -> None:
    """Statements of the calling thread are background work (the embedded worker's tasks:
    alert rules every minute, the anomaly detector every five) until marked otherwise: after
    them the store rests within CHDB_STORE_BACKGROUND_IDLE_S, not CHDB_STORE_IDLE_EXIT_S, so a
    periodic task does not keep an idle install's store up for a minute each time."""
    _background.on = on


class StoreLost(Exception):
    """The store process went away while a statement was with it."""


class StoreEngine:
    """`ChdbEngine`'s interface, run in the store process (started on demand, rested when idle)."""

    name = "chdb"

    def __init__(self, path: str, database: str, *, malloc_conf: str = "", nice: int = 0, idle_exit_s: float = 0.0,
                 background_idle_s: float | None = None):
        self.path = path
        self.database = database
        self.malloc_conf = malloc_conf
        self.nice = nice
        self.idle_exit_s = idle_exit_s
        self.background_idle_s = idle_exit_s if background_idle_s is None else min(background_idle_s, idle_exit_s)
        self.proc = None
        self.restarts = 0
        self.starts = 0
        self._address = None
        self._token = None
        self._generation = 0
        self._state = threading.Condition()
        self._in_flight = 0
        self._last_used = time.monotonic()
        self._last_background = 0.0
        self._local = threading.local()
        self._rest_thread = None
        self._closed = False
        self._folder_fd = None
        # When a statement last may have added rows (wall clock). Unknown before this process
        # started: a predecessor may have written until then.
        self._wrote_at = time.time()

    # -- process ---------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def status(self) -> dict:
        return {"alive": self.running, "resting": self.proc is not None and not self.running and
                self.proc.returncode == 0, "pid": self.proc.pid if self.running else None,
                "starts": self.starts, "restarts": self.restarts,
                "idle_s": round(time.monotonic() - self._last_used, 1)}

    def _start(self) -> None:
        import select
        import subprocess

        from spanlens.requestlog.engine import chdb_held_elsewhere

        self._release_folder()
        if self.proc is not None and self.proc.poll() not in (None, 0):
            self.restarts += 1
            log.error("the request-log store exited (%s); starting a new one", self.proc.returncode)
        deadline = time.monotonic() + START_TIMEOUT_S
        # A predecessor's store (its web process was killed) closes the folder once it sees
        # EOF on its input: wait for that rather than fail, and have a replay check nothing.
        while chdb_held_elsewhere(self.path) and time.monotonic() < deadline:
            time.sleep(0.05)
        env = dict(os.environ)
        if self.malloc_conf:
            # chDB's allocator reads its options once, when the library loads.
            env.setdefault("JE_MALLOC_CONF", self.malloc_conf)
        self._address, self._token = _address(), secrets.token_hex(16)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "spanlens.requestlog.store", self.path, self.database, str(self.nice)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, close_fds=True, env=env,
        )
        self.proc.stdin.write(orjson.dumps({"address": self._address, "token": self._token}) + b"\n")
        self.proc.stdin.flush()
        line = b""
        while not line.endswith(b"\n") and time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], max(deadline - time.monotonic(), 0))
            if not ready:
                break
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                break
            line += chunk
        self.starts += 1
        self._generation += 1
        if line.startswith(b"ready"):
            self.proc.stdout.close()
            self._ensure_rest_thread()
            return
        self._stop_process()
        detail = orjson.loads(line[6:]) if line.startswith(b"error ") else {"unavailable": True,
                                                                              "error": "did not start"}
        raise _error(detail, prefix="the request-log store could not open its folder: ")

    def _stop_process(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            self.proc.stdin.close()  # EOF: it closes the folder and exits
            self.proc.wait(10)
        except Exception:
            self.proc.kill()
            self.proc.wait()

    def _ensure_rest_thread(self) -> None:
        if self.idle_exit_s > 0 and self._rest_thread is None:
            self._rest_thread = threading.Thread(target=self._rest_loop, name="spanlens-log-store-rest", daemon=True)
            self._rest_thread.start()

    def _rest_loop(self) -> None:
        while not self._closed:
            time.sleep(min(max(min(self.idle_exit_s, self.background_idle_s or self.idle_exit_s) / 4, 0.05), 5.0))
            with self._state:
                now = time.monotonic()
                if (self.running and not self._in_flight and now - self._last_used >= self.idle_exit_s
                        and now - self._last_background >= self.background_idle_s):
                    self._rest()

    def _rest(self) -> None:
        """Ask the store to exit (with no statement in flight, under the state lock)."""
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(10)
                sock.connect(self._address)
                _send(sock, {"token": self._token})
                _receive(sock)
                _send(sock, {"op": "exit"})
                _receive(sock)
            self.proc.wait(10)
        except Exception:
            log.debug("the request-log store did not exit when asked; stopping it", exc_info=True)
            self._stop_process()
        self._generation += 1  # connections of the old store are dropped on their next use
        self._hold_folder()

    def _hold_folder(self) -> None:
        """While the store rests, this process keeps the lock chDB takes on its folder
        (`status`), so a command run meanwhile (`recent_requests`, `mcp`, a backup) sees the
        log held by a running server and asks it, as it would with the store up, instead of
        opening the folder itself and keeping the store out of it."""
        import fcntl

        try:
            # chDB removes the file when it closes the folder, and makes it again when it opens it.
            fd = os.open(os.path.join(self.path, "status"), os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return
        self._folder_fd = fd

    def _release_folder(self) -> None:
        fd, self._folder_fd = self._folder_fd, None
        if fd is not None:
            os.close(fd)  # closing the descriptor drops its lock

    # -- statements ----------------------------------------------------------

    def _connection(self) -> socket.socket:
        local = self._local
        if getattr(local, "generation", None) == self._generation and local.sock is not None:
            return local.sock
        self._drop_connection()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(self._address)
        _send(sock, {"token": self._token})
        _receive(sock)
        local.sock, local.generation = sock, self._generation
        return sock

    def _drop_connection(self) -> None:
        sock = getattr(self._local, "sock", None)
        self._local.sock = None
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass

    def _begin(self, start: bool) -> None:
        with self._state:
            if self._closed:
                from spanlens.requestlog.engine import ClickHouseUnavailable

                raise ClickHouseUnavailable("the request-log store is closed")
            if not self.running:
                if not start:
                    raise StoreLost("not running")
                self._start()
            self._in_flight += 1

    def _end(self, used: bool) -> None:
        with self._state:
            self._in_flight -= 1
            if used and getattr(_background, "on", False):
                self._last_background = time.monotonic()
            elif used:
                self._last_used = time.monotonic()

    def _run(self, sql: str, fmt: str = "CSV", params: dict | None = None) -> bytes:
        retry = sql.lstrip()[:8].upper().startswith(_READS)
        if not retry:
            self._wrote_at = time.time()
        for attempt in (0, 1):
            try:
                return self._once(sql, fmt, params)
            except StoreLost as exc:
                if attempt or not retry:
                    from spanlens.requestlog.engine import ClickHouseUnavailable

                    raise ClickHouseUnavailable(f"the request-log store exited during a statement: {exc}") from exc
        raise AssertionError("unreachable")

    def _once(self, sql: str, fmt: str, params: dict | None, used: bool = True) -> bytes:
        self._begin(start=used)
        try:
            try:
                sock = self._connection()
                _send(sock, {"sql": sql, "fmt": fmt, "params": params})
                reply, data = _receive(sock)
            except (OSError, EOFError) as exc:
                self._drop_connection()
                self._lost()
                raise StoreLost(str(exc) or type(exc).__name__) from exc
        finally:
            self._end(used)
        if not reply.get("ok"):
            raise _error(reply)
        return data

    def _lost(self) -> None:
        """A store that broke a connection is dying (or no longer serves): let it finish
        exiting, so the next statement starts a new one at a new address."""
        proc = self.proc
        if proc is None:
            return
        try:
            proc.wait(2)
        except Exception:
            proc.kill()
            proc.wait()

    def command(self, sql: str, params: dict | None = None) -> None:
        self._run(sql, "CSV", params)

    def select(self, sql: str, params: dict | None = None) -> list[dict]:
        return [orjson.loads(line) for line in self._run(sql, "JSONEachRow", params).splitlines() if line]

    def insert_json_rows(self, table: str, payload: bytes) -> None:
        self._run(f"INSERT INTO `{table}` FORMAT JSONEachRow\n" + payload.decode())

    def insert_rows(self, table: str, rows: list[dict]) -> None:
        from spanlens.requestlog.engine import encode_rows

        self.insert_json_rows(table, encode_rows(rows))

    def insert_files(self, table: str, paths: list[str], columns: list[str], fmt: str = "Arrow",
                     exclude_ids: list[str] | None = None) -> None:
        from spanlens.requestlog.engine import ClickHouseUnavailable, file_insert_sql

        sql, params = file_insert_sql(table, paths, columns, fmt, exclude_ids)
        self._wrote_at = time.time()
        try:
            self._once(sql, "CSV", params)
        except StoreLost:
            # The store died with the insert in hand: it may have stored the rows or not.
            # Once more, leaving out ids the table already holds, so no row is stored twice.
            sql, params = file_insert_sql(table, paths, columns, fmt, exclude_ids, skip_stored=True)
            try:
                self._once(sql, "CSV", params)
            except StoreLost as exc:
                raise ClickHouseUnavailable(f"the request-log store exited during an insert: {exc}") from exc

    def stored_nothing_for(self, seconds: float) -> bool:
        """Whether no statement that can add rows ran here in the last `seconds` (with a
        margin for the clock): this process is the folder's only writer, so a window of
        the log that starts after that holds no row (a row's created_at precedes its insert)."""
        return time.time() - self._wrote_at > seconds + 5

    def ping(self) -> bool:
        if not self.running:
            return True  # resting: the next statement starts it (health says so, see status())
        self._run("SELECT 1")
        return True

    def release_memory(self) -> None:
        """Sent only to a running store, and not counted as use (a purge must not keep it awake)."""
        if not self.running:
            return
        try:
            self._once("SYSTEM JEMALLOC PURGE", "CSV", None, used=False)
        except StoreLost:
            pass

    def close(self) -> None:
        with self._state:
            self._closed = True
            self._stop_process()
            self._release_folder()


def _error(detail: dict, prefix: str = ""):
    from spanlens.requestlog.engine import ClickHouseError, ClickHouseUnavailable

    return (ClickHouseUnavailable if detail.get("unavailable") else ClickHouseError)(prefix + str(detail.get("error")))


if __name__ == "__main__":
    main()

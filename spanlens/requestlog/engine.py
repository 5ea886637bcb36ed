"""Run SQL on embedded chDB or a ClickHouse server; the same SQL on both.

Parameters always travel as ClickHouse query parameters ({name:Type}), never
formatted into the SQL text.
"""
from __future__ import annotations

import os
import threading
from typing import Any, Iterable

import orjson
from django.conf import settings


class ClickHouseError(RuntimeError):
    pass


class ClickHouseUnavailable(ClickHouseError):
    """The store cannot answer at all (server unreachable, tables missing): pages and
    APIs say so with a 503 instead of failing as if the query were wrong."""


# Substrings of the errors that mean "the store is not there", from both engines.
_UNAVAILABLE_MARKERS = (
    "UNKNOWN_TABLE", "UNKNOWN_DATABASE", "Connection refused", "EmbeddedServer",
    "timed out", "Max retries", "Name or service not known", "Connection reset", "NetworkError",
)


def _wrapped(exc: Exception) -> ClickHouseError:
    text = str(exc)
    unavailable = type(exc).__name__ == "OperationalError" or any(m in text for m in _UNAVAILABLE_MARKERS)
    return (ClickHouseUnavailable if unavailable else ClickHouseError)(text)


# ClickHouse 26.x's top-K dynamic filter mis-types its threshold when the ORDER BY
# column is not the first selected column ("Type mismatch ... Expected DateTime64,
# got UUID") on the dashboard's paged, sorted reads; the plain top-K sort is as fast here.
# Its top-K from minmax skip indexes (on by default) returned a wrong page on chDB 26.5
# with a minmax index on latency_ms: rows of 2,096 ms where 5,000 rows had 2,099
# (bench/results/logpath.md). No table has such an index; this keeps one added later
# from changing what a sorted list shows.
SESSION_SETTINGS = {"use_top_k_dynamic_filtering": 0, "use_skip_indexes_for_top_k": 0}
_SESSION_SETTINGS_SQL = "SET " + ", ".join(f"{k} = {v}" for k, v in SESSION_SETTINGS.items())


class ChdbEngine:
    """In-process ClickHouse. Its data folder opens in one process only; threads share it."""

    name = "chdb"

    def __init__(self, path: str, database: str, malloc_conf: str = ""):
        # chDB's allocator reads its options once, when the library loads.
        if malloc_conf:
            os.environ.setdefault("JE_MALLOC_CONF", malloc_conf)
        # Loaded here so server installs never load chDB.
        self._conn = load_chdb_extension().connect(path)
        self._lock = threading.Lock()
        self.database = database
        self._run(f"CREATE DATABASE IF NOT EXISTS `{database}`")
        self._run(f"USE `{database}`")
        self._run(_SESSION_SETTINGS_SQL)

    def _run(self, sql: str, fmt: str = "CSV", params: dict | None = None):
        if params:
            params = {k: _escape_param(v) if isinstance(v, str) else v for k, v in params.items()}
        try:
            with self._lock:
                return self._conn.query(sql, fmt, params=params or {})
        except Exception as exc:  # chDB raises RuntimeError with the server's message
            raise _wrapped(exc) from exc

    def command(self, sql: str, params: dict | None = None) -> None:
        self._run(sql, "CSV", params)

    def select(self, sql: str, params: dict | None = None) -> list[dict[str, Any]]:
        result = self._run(sql, "JSONEachRow", params)
        data = result.bytes() if result is not None else b""
        return [orjson.loads(line) for line in data.splitlines() if line]

    def insert_json_rows(self, table: str, payload: bytes) -> None:
        # chDB takes inline data after FORMAT; the payload is our own JSON, not user SQL.
        self._run(f"INSERT INTO `{table}` FORMAT JSONEachRow\n" + payload.decode())

    def insert_rows(self, table: str, rows: list[dict]) -> None:
        """A batch whose rows share one set of columns goes in as an Arrow table, which chDB
        reads in place: ~1.5x the rows/s of parsing the same batch as JSON (`make bench`).
        Anything else (mixed columns or types) goes in as JSONEachRow."""
        columns = list(rows[0])
        keys = rows[0].keys()
        if all(c.isidentifier() for c in columns) and all(r.keys() == keys for r in rows):
            import pyarrow as pa

            try:
                spanlens_arrow_batch = pa.Table.from_pylist(rows)  # noqa: F841 (read by name below)
            except (pa.ArrowException, TypeError, ValueError):
                pass
            else:
                names = ", ".join(f"`{c}`" for c in columns)
                # Python(name) is chDB's table function over a Python object in the calling frames.
                self._run(f"INSERT INTO `{table}` ({names}) SELECT {names} FROM Python(spanlens_arrow_batch)")
                return
        self.insert_json_rows(table, encode_rows(rows))

    def insert_files(self, table: str, paths: list[str], columns: list[str], fmt: str = "Arrow",
                     exclude_ids: list[str] | None = None) -> None:
        """Rows from files the log builder wrote, in one insert. chDB reads the files
        itself, without holding the GIL (inserting from a Python object holds it throughout)."""
        sql, params = file_insert_sql(table, paths, columns, fmt, exclude_ids)
        self._run(sql, params=params)

    def ping(self) -> bool:
        self._run("SELECT 1")
        return True

    def release_memory(self) -> None:
        """Give memory ClickHouse's allocator freed but kept back to the system."""
        self._run("SYSTEM JEMALLOC PURGE")

    def close(self) -> None:
        try:
            self._conn.close()
        except Exception:
            pass


def file_insert_sql(table: str, paths: list[str], columns: list[str], fmt: str = "Arrow",
                    exclude_ids: list[str] | None = None, skip_stored: bool = False) -> tuple[str, dict | None]:
    """The INSERT that has chDB read batch files; `skip_stored` leaves out ids the table
    already holds (a retry of an insert whose outcome is unknown)."""
    names = _column_list(columns)
    folders = {os.path.dirname(p) for p in paths}
    if len(folders) != 1 or not all(os.path.basename(p).replace("-", "").replace(".", "").isalnum() for p in paths):
        raise ClickHouseError("batch files must be plain names in one folder")
    files = [os.path.basename(p) for p in paths]
    source = f"file({_quoted(os.path.join(folders.pop(), files[0] if len(files) == 1 else '{' + ','.join(files) + '}'))}, '{fmt}')"
    conditions = ["toString(id) NOT IN {exclude:Array(String)}"] if exclude_ids else []
    if skip_stored:
        conditions.append(f"id NOT IN (SELECT id FROM `{table}` WHERE id IN (SELECT id FROM {source}))")
    where = " WHERE " + " AND ".join(conditions) if conditions else ""
    params = {"exclude": _string_array(exclude_ids)} if exclude_ids else None
    return f"INSERT INTO `{table}` ({names}) SELECT {names} FROM {source}{where}", params


_chdb_extension = None


def load_chdb_extension():
    """chDB's compiled module (`chdb._chdb`), loaded without the `chdb` package around it.

    The package's `__init__` imports pyarrow and numpy (~80 MB of a web process's RSS,
    bench/results/memory.md) for result formats we never ask for: its Session is a thin
    wrapper that hands `connect(path).query(sql, format, params=...)` to this module.
    What follows is what that `__init__` does to load it: preload the library with
    RTLD_DEEPBIND (its C++ runtime must resolve to chDB's own allocator) from its folder.
    Once a folder is open here, the package cannot be imported in this process (its
    `__init__` opens an in-memory server, and chDB serves one path per process)."""
    global _chdb_extension
    if _chdb_extension is None:
        import ctypes
        import importlib.util
        import sys

        package = importlib.util.find_spec("chdb")
        if package is None or not package.submodule_search_locations:
            raise ClickHouseUnavailable("chDB is not installed (pip install chdb-core-lite)")
        folder = list(package.submodule_search_locations)[0]
        library = os.path.join(folder, "_chdb.abi3.so")
        cwd = os.getcwd()
        os.chdir(folder)  # the library finds its pybind11 stubs beside it
        try:
            if sys.platform == "linux":
                ctypes.CDLL(library, mode=sys.getdlopenflags() | 0x8)  # RTLD_DEEPBIND
            spec = importlib.util.spec_from_file_location("chdb._chdb", library)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        finally:
            os.chdir(cwd)
        _chdb_extension = module
    return _chdb_extension


# chDB reads query parameter values in ClickHouse's escaped text form (as the server's
# HTTP interface does, where clickhouse-connect escapes them): a raw backslash starts
# an escape sequence and a raw tab or newline ends the value: unescaped, a search for a
# backslash failed the whole query (CANNOT_PARSE_ESCAPE_SEQUENCE).
_PARAM_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\0": "\\0"})


def _escape_param(value: str) -> str:
    return value.translate(_PARAM_ESCAPES)


class ServerEngine:
    """A ClickHouse server over HTTP(S) via clickhouse-connect."""

    name = "server"

    def __init__(self, url: str, user: str, password: str, database: str):
        import clickhouse_connect
        from urllib.parse import urlparse

        parsed = urlparse(url)
        self.database = database
        admin = clickhouse_connect.get_client(
            host=parsed.hostname,
            port=parsed.port or (8443 if parsed.scheme == "https" else 8123),
            username=user,
            password=password,
            secure=parsed.scheme == "https",
        )
        admin.command(f"CREATE DATABASE IF NOT EXISTS `{database}`")
        admin.close()
        self._client = clickhouse_connect.get_client(
            host=parsed.hostname,
            port=parsed.port or (8443 if parsed.scheme == "https" else 8123),
            username=user,
            password=password,
            database=database,
            secure=parsed.scheme == "https",
            autogenerate_session_id=False,
        )
        # Only servers that have the setting get it; an older one would reject the name.
        known = getattr(self._client, "server_settings", None) or {}
        wanted = dict(SESSION_SETTINGS)
        if settings.CLICKHOUSE_CLUSTER:
            # Insert through the Distributed table and return only once the shard holds the
            # rows (older servers call it insert_distributed_sync), so none is acknowledged early.
            wanted.update({"distributed_foreground_insert": 1, "insert_distributed_sync": 1})
        for name, value in wanted.items():
            if name in known:
                self._client.set_client_setting(name, value)
        # Bursty traffic from many web processes: the server buffers small inserts and
        # writes them as one part, and the insert returns once the rows are stored, so no
        # row is acknowledged (and its spool record committed) before it is durable.
        self._insert_settings = {"async_insert": 1, "wait_for_async_insert": 1} \
            if settings.CLICKHOUSE_ASYNC_INSERT and "async_insert" in known else None

    def command(self, sql: str, params: dict | None = None) -> None:
        try:
            self._client.command(sql, parameters=params or None)
        except Exception as exc:
            raise _wrapped(exc) from exc

    def select(self, sql: str, params: dict | None = None) -> list[dict[str, Any]]:
        try:
            data = self._client.raw_query(sql, parameters=params or None, fmt="JSONEachRow")
        except Exception as exc:
            raise _wrapped(exc) from exc
        return [orjson.loads(line) for line in data.splitlines() if line]

    def insert_json_rows(self, table: str, payload: bytes) -> None:
        try:
            self._client.raw_insert(table, insert_block=payload, fmt="JSONEachRow", settings=self._insert_settings)
        except Exception as exc:
            raise _wrapped(exc) from exc

    def insert_rows(self, table: str, rows: list[dict]) -> None:
        self.insert_json_rows(table, encode_rows(rows))

    def insert_files(self, table: str, paths: list[str], columns: list[str], fmt: str = "Arrow",
                     exclude_ids: list[str] | None = None) -> None:
        import pyarrow as pa

        tables = []
        for path in paths:
            with pa.memory_map(path) as source:
                tables.append(pa.ipc.open_file(source).read_all())
        data = pa.concat_tables(tables, promote_options="permissive") if len(tables) > 1 else tables[0]
        if exclude_ids:
            rows = [r for r in data.to_pylist() if r.get("id") not in set(exclude_ids)]
            if rows:
                self.insert_rows(table, rows)
            return
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, data.schema) as writer:
            writer.write_table(data)
        try:
            self._client.raw_insert(table, column_names=list(columns), insert_block=sink.getvalue().to_pybytes(),
                                    fmt="ArrowStream", settings=self._insert_settings)
        except Exception as exc:
            raise _wrapped(exc) from exc

    def ping(self) -> bool:
        return bool(self._client.ping())

    def release_memory(self) -> None:
        """A server manages its own memory."""

    def close(self) -> None:
        self._client.close()


def ping_server(url: str, user: str, password: str, timeout: float = 3.0) -> str:
    """Reach a ClickHouse server without touching any database; returns its version.

    Used by `check_env`, which must work before settings (or the schema) exist.
    """
    import clickhouse_connect
    from urllib.parse import urlparse

    parsed = urlparse(url)
    try:
        client = clickhouse_connect.get_client(
            host=parsed.hostname,
            port=parsed.port or (8443 if parsed.scheme == "https" else 8123),
            username=user,
            password=password,
            secure=parsed.scheme == "https",
            connect_timeout=timeout,
            send_receive_timeout=timeout,
            autogenerate_session_id=False,
        )
        try:
            return str(client.server_version)
        finally:
            client.close()
    except Exception as exc:
        raise _wrapped(exc) from exc


def chdb_held_elsewhere(path: str) -> bool:
    """Whether another process (a running embedded server) holds the chDB folder.

    ClickHouse flocks `status` in its folder for as long as it runs; probing the
    same lock tells before opening, where chDB would print its own "Cannot lock
    file" error and fail. Call it only in a process that has not opened the folder.
    """
    import fcntl
    import os

    try:
        fd = os.open(os.path.join(path, "status"), os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


_engine = None
_engine_lock = threading.Lock()
# Set by the web process (writer.start_web_writer) when chDB is to live in its own process.
_use_store_process = False


def use_store_process() -> bool:
    """In a web process (or the command that becomes one): serve the embedded request log
    from a store process (store.py) when the settings ask for it (CHDB_STORE_PROCESS, with
    rows built in the log builder) and nothing here has opened chDB yet; returns whether it will."""
    global _use_store_process
    with _engine_lock:
        if (_engine is None and not settings.CLICKHOUSE_URL and settings.CHDB_STORE_PROCESS
                and settings.LOG_BUILD_PROCESS):
            _use_store_process = True
        return _use_store_process


def engine_if_open():
    """The engine when something already opened it, else None (never opens chDB)."""
    return _engine


def stored_nothing_for(seconds: float) -> bool:
    """True when this process knows no row can have been stored in the last `seconds`: its
    store process (the embedded log's only writer) ran no insert since. Lets a periodic read of
    a recent window (alert rules) answer "no calls" without waking a resting store. False
    wherever it cannot know (a ClickHouse server, chDB in this process)."""
    check = getattr(_engine, "stored_nothing_for", None)
    return bool(check and check(seconds))


def get_engine():
    global _engine
    if _engine is None:
        with _engine_lock:
            if _engine is None:
                try:
                    if settings.CLICKHOUSE_URL:
                        _engine = ServerEngine(
                            settings.CLICKHOUSE_URL,
                            settings.CLICKHOUSE_USER,
                            settings.CLICKHOUSE_PASSWORD,
                            settings.CLICKHOUSE_DB,
                        )
                    elif _use_store_process:
                        from spanlens.requestlog.store import StoreEngine

                        _engine = StoreEngine(settings.CHDB_PATH, settings.CLICKHOUSE_DB,
                                              malloc_conf=settings.CHDB_MALLOC_CONF, nice=settings.LOG_WORKER_NICE,
                                              idle_exit_s=settings.CHDB_STORE_IDLE_EXIT_S,
                                              background_idle_s=settings.CHDB_STORE_BACKGROUND_IDLE_S)
                    else:
                        _engine = ChdbEngine(settings.CHDB_PATH, settings.CLICKHOUSE_DB, settings.CHDB_MALLOC_CONF)
                except ClickHouseError:
                    raise
                except Exception as exc:  # unreachable at start: try again on the next call
                    raise ClickHouseUnavailable(str(exc)) from exc
    return _engine


def _column_list(columns) -> str:
    if not all(str(c).isidentifier() for c in columns):
        raise ClickHouseError(f"not a column name list: {columns!r}")
    return ", ".join(f"`{c}`" for c in columns)


def _quoted(path: str) -> str:
    # A path the log builder made under var/; quoted so nothing in it can end the literal.
    return "'" + path.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _string_array(values) -> str:
    return "[" + ",".join("'" + str(v).replace("\\", "\\\\").replace("'", "\\'") + "'" for v in values) + "]"


def encode_rows(rows: Iterable[dict]) -> bytes:
    return b"\n".join(orjson.dumps(r) for r in rows)

"""The request log's store process: embedded chDB opened in a process of its own, which a
web process reads and inserts through, rests when idle, and outlives nothing.

Each test runs a real store process (`python -m spanlens.requestlog.store`) on its own folder."""
from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from pathlib import Path

import httpx
import psutil
import pytest

from spanlens.requestlog.engine import ClickHouseError, chdb_held_elsewhere
from spanlens.requestlog.store import StoreEngine
from tests.test_log_spool import call, server_env, start, wait_logged  # noqa: F401 (a fixture)


@pytest.fixture
def store(tmp_path):
    engine = StoreEngine(str(tmp_path / "clickhouse"), "spanlens_store_test", idle_exit_s=0)
    engine.command("CREATE TABLE IF NOT EXISTS t (id UUID, n UInt32, s String) ENGINE = MergeTree ORDER BY id")
    yield engine
    engine.close()


def _arrow_batch(folder: Path, rows: list[dict]) -> str:
    import pyarrow as pa

    folder.mkdir(exist_ok=True)
    path = folder / f"{uuid.uuid4().hex}.arrow"
    table = pa.Table.from_pylist(rows, schema=pa.schema([("id", pa.string()), ("n", pa.uint32()), ("s", pa.string())]))
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    return str(path)


def test_statements_run_in_the_store_process_with_their_parameters_and_errors(store, tmp_path):
    store.command("INSERT INTO t VALUES (generateUUIDv4(), 1, {s:String})", {"s": "a\\b\tc'd\ne"})
    assert store.select("SELECT n, s FROM t") == [{"n": 1, "s": "a\\b\tc'd\ne"}]
    # The folder is the store's, not this process's.
    assert store.running and chdb_held_elsewhere(str(tmp_path / "clickhouse"))
    with pytest.raises(ClickHouseError, match="nope"):
        store.select("SELECT nope FROM t")
    assert store.select("SELECT count() AS c FROM t") == [{"c": 1}]  # an error leaves it serving
    assert store.status()["restarts"] == 0


def test_threads_share_the_store(store):
    results = []

    def reads():
        for i in range(40):
            results.append(store.select("SELECT {i:UInt32} * 2 AS v", {"i": i})[0]["v"])

    threads = [threading.Thread(target=reads) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == sorted(i * 2 for i in range(40) for _ in range(4))


def test_an_idle_store_rests_and_the_next_statement_starts_it(tmp_path):
    engine = StoreEngine(str(tmp_path / "clickhouse"), "spanlens_store_test", idle_exit_s=0.5)
    try:
        engine.command("CREATE TABLE t (n UInt32) ENGINE = MergeTree ORDER BY n")
        engine.command("INSERT INTO t VALUES (7)")
        pid = engine.proc.pid
        deadline = time.monotonic() + 10
        while engine.running and time.monotonic() < deadline:
            engine.release_memory()  # a purge is not use: it must not keep the store awake
            time.sleep(0.1)
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        assert engine.status()["resting"] is True
        # Meanwhile this process holds the folder's lock, as chDB does: a command run now asks
        # the server rather than opening the folder and keeping the store out of it.
        assert _held_by_another_process(tmp_path / "clickhouse")
        assert engine.ping() is True  # resting is not down, and a ping does not wake it
        assert not engine.running
        assert engine.select("SELECT n FROM t") == [{"n": 7}]
        status = engine.status()
        assert (status["alive"], status["resting"], status["starts"], status["restarts"]) == (True, False, 2, 0)
    finally:
        engine.close()


def _held_by_another_process(folder: Path) -> bool:
    import subprocess
    import sys

    probe = subprocess.run(
        [sys.executable, "-c", "import sys; from spanlens.requestlog.engine import chdb_held_elsewhere as h;"
                               f"sys.exit(0 if h({str(folder)!r}) else 3)"],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "spanlens.settings"}, cwd=str(Path(__file__).parent.parent))
    return probe.returncode == 0


def test_a_killed_store_is_started_again_by_the_next_read(store):
    store.command("INSERT INTO t VALUES (generateUUIDv4(), 3, 'x')")
    os.kill(store.proc.pid, signal.SIGKILL)
    store.proc.wait(10)
    assert store.select("SELECT n FROM t") == [{"n": 3}]
    assert store.status()["restarts"] == 1


def test_an_insert_the_store_died_under_is_stored_once(store, tmp_path):
    """The store is stopped with the insert in hand and then killed: the writer cannot know
    whether the rows went in, so the retry leaves out ids the table holds."""
    rows = [{"id": str(uuid.uuid4()), "n": i, "s": "r"} for i in range(50)]
    path = _arrow_batch(tmp_path / "built", rows)
    store.select("SELECT 1")
    victim = store.proc
    os.kill(victim.pid, signal.SIGSTOP)
    inserting = threading.Thread(target=store.insert_files, args=("t", [path], ["id", "n", "s"]))
    inserting.start()
    time.sleep(0.5)
    os.kill(victim.pid, signal.SIGKILL)
    inserting.join(30)
    assert not inserting.is_alive()
    assert store.select("SELECT count() AS c, uniqExact(id) AS u FROM t") == [{"c": 50, "u": 50}]
    # And a batch already stored, inserted again the same way, adds nothing.
    from spanlens.requestlog.engine import file_insert_sql

    sql, params = file_insert_sql("t", [path], ["id", "n", "s"], skip_stored=True)
    store.command(sql, params)
    assert store.select("SELECT count() AS c FROM t") == [{"c": 50}]


def test_the_store_exits_when_its_web_process_is_killed(tmp_path):
    """Its lifetime is its parent's (EOF on its input), so a killed server's successor finds
    the folder free; Ctrl-C and SIGTERM to the process group do not end it before its parent."""
    import subprocess
    import sys

    script = (
        "import sys, time; from spanlens.requestlog.store import StoreEngine;"
        f"e = StoreEngine({str(tmp_path / 'clickhouse')!r}, 'd'); e.select('SELECT 1');"
        "print(e.proc.pid, flush=True); time.sleep(600)"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "spanlens.settings"}
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env,
                              cwd=str(Path(__file__).resolve().parent.parent))
    try:
        store_pid = int(parent.stdout.readline())
        os.kill(store_pid, signal.SIGINT)
        os.kill(store_pid, signal.SIGTERM)
        time.sleep(0.5)
        assert psutil.Process(store_pid).status() != psutil.STATUS_ZOMBIE
        assert chdb_held_elsewhere(str(tmp_path / "clickhouse"))
        parent.kill()
        parent.wait(10)
        deadline = time.monotonic() + 15
        while psutil.pid_exists(store_pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not psutil.pid_exists(store_pid)
        assert not chdb_held_elsewhere(str(tmp_path / "clickhouse"))
    finally:
        parent.kill()


def test_a_connection_without_the_token_reads_nothing(store):
    import socket

    from spanlens.requestlog.store import _receive, _send

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect(store._address)
        _send(sock, {"token": "guess"})
        with pytest.raises(EOFError):
            _receive(sock)
    assert store.select("SELECT 1 AS one") == [{"one": 1}]


def _children(pid: int, module: str) -> list[psutil.Process]:
    found = []
    for child in psutil.Process(pid).children():
        try:
            if child.status() != psutil.STATUS_ZOMBIE and module in child.cmdline():
                found.append(child)
        except psutil.Error:
            pass
    return found


def _maps(pid: int) -> set[str]:
    return {line.split()[-1] for line in Path(f"/proc/{pid}/maps").read_text().splitlines()}


def test_a_web_process_never_maps_chdb_and_an_idle_one_holds_no_store(server_env):  # noqa: F811
    env, key = server_env
    ctx, base = start(env, CHDB_STORE_IDLE_EXIT_S="2", LOG_BUILDER_IDLE_EXIT_S="2")
    with ctx as proc:
        for i in range(6):
            call(base, key, stream=i % 2 == 0)
        assert len(wait_logged(base, key, 6)) == 6
        [store] = _children(proc.pid, "spanlens.requestlog.store")
        assert any(name.endswith("/_chdb.abi3.so") for name in _maps(store.pid))
        assert not any(name.endswith("/_chdb.abi3.so") for name in _maps(proc.pid))

        deadline = time.monotonic() + 30
        while _children(proc.pid, "spanlens.requestlog.store") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _children(proc.pid, "spanlens.requestlog.store") == []
        deep = httpx.get(f"{base}/health/deep", timeout=20).json()
        assert deep["checks"]["clickhouse"]["ok"] is True
        assert deep["log_writer"]["store"]["resting"] is True
        assert not any("store" in w for w in deep.get("warnings", []))

        # The next read starts it again; so does the next call's insert.
        call(base, key)
        assert len(wait_logged(base, key, 7)) == 7
        assert len(_children(proc.pid, "spanlens.requestlog.store")) == 1


def test_an_empty_alert_window_is_what_the_log_answers_for_one(db, org):
    """The alert rules' reads answer a window without calls from a constant when the store
    knows nothing was stored in it: that constant is what the scan itself returns."""
    from spanlens.requestlog import alert_queries

    assert alert_queries.get_alert_window(organization_id=str(org.id), minutes=5) == alert_queries.EMPTY_WINDOW
    assert alert_queries.list_alert_value_weights(organization_id=str(org.id), column="latency_ms", minutes=5) == []


def test_alert_windows_after_a_quiet_spell_leave_a_resting_store_resting(tmp_path, monkeypatch):
    from spanlens.requestlog import alert_queries, engine as engine_module
    from spanlens.requestlog.migrate import apply_migrations

    store = StoreEngine(str(tmp_path / "clickhouse"), "spanlens_alert_quiet", idle_exit_s=0.3)
    monkeypatch.setattr(engine_module, "_engine", store)
    try:
        apply_migrations()
        org = str(uuid.uuid4())
        deadline = time.monotonic() + 10
        while store.running and time.monotonic() < deadline:
            time.sleep(0.05)
        assert store.status()["resting"] is True
        starts = store.status()["starts"]

        store._wrote_at = time.time() - 3600  # the last insert an hour ago
        assert alert_queries.get_alert_window(organization_id=org, minutes=10) == alert_queries.EMPTY_WINDOW
        assert alert_queries.list_alert_value_weights(organization_id=org, column="latency_ms", minutes=10) == []
        assert store.status()["starts"] == starts and not store.running  # not woken

        # A window that reaches back past the last insert is read from the log.
        assert alert_queries.get_alert_window(organization_id=org, minutes=120)["rows"] == 0
        assert store.status()["starts"] == starts + 1
        store.select("SELECT 1")
        assert store.stored_nothing_for(60)  # a read stores nothing
        store.command("CREATE TABLE IF NOT EXISTS quiet (n UInt8) ENGINE = Memory")
        assert not store.stored_nothing_for(60)  # any other statement may have
    finally:
        store.close()


def test_after_background_statements_alone_the_store_rests_sooner(tmp_path):
    """The embedded worker's periodic tasks (alert rules, the anomaly detector) wake the store
    for a moment; a dashboard read keeps it up for CHDB_STORE_IDLE_EXIT_S."""
    from spanlens.requestlog.store import mark_background

    engine = StoreEngine(str(tmp_path / "clickhouse"), "spanlens_store_bg", idle_exit_s=30, background_idle_s=0.3)
    try:
        engine._last_used = time.monotonic() - 60  # started a minute ago, no reads since
        mark_background(True)
        try:
            engine.select("SELECT 1")
        finally:
            mark_background(False)
        deadline = time.monotonic() + 10
        while engine.running and time.monotonic() < deadline:
            time.sleep(0.05)
        assert engine.status()["resting"] is True

        engine.select("SELECT 1")  # a read as a page makes it
        time.sleep(1.5)
        assert engine.running
    finally:
        engine.close()

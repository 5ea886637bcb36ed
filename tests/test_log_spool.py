"""The crash spool: rows a client already has survive kill -9 of the server, and a
replay never writes a row twice. The kill tests run a real server process."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from django.db import connection

from spanlens.requestlog.spool import Spool
from tests import mock_upstream as mock
from tests.procs import ROOT, base_env, database_url_for, free_port, spawn

MB = 1024 * 1024


# --- the spool on its own -------------------------------------------------------

def test_only_uncommitted_records_come_back_after_a_restart(tmp_path):
    spool = Spool(tmp_path, max_bytes=MB)
    positions = [spool.append({"n": i, "body": b"x" * 100}) for i in range(10)]
    spool.commit(positions[5])
    spool.close()

    again = Spool(tmp_path, max_bytes=MB)
    assert again.dir == spool.dir  # the slot is free again, so it is the same one
    assert [r["n"] for _, r in again.leftovers()] == [6, 7, 8, 9]


def test_a_torn_last_record_is_ignored(tmp_path):
    spool = Spool(tmp_path, max_bytes=MB)
    for i in range(3):
        spool.append({"n": i})
    spool.close()
    [segment] = sorted(spool.dir.glob("*.spool"))
    with open(segment, "ab") as f:
        f.write(b"\x40\x00\x00\x00partial")  # a length header promising 64 bytes, then death
    assert [r["n"] for _, r in Spool(tmp_path, max_bytes=MB).leftovers()] == [0, 1, 2]


def test_a_full_spool_says_so_and_frees_up_once_rows_are_stored(tmp_path):
    spool = Spool(tmp_path, max_bytes=4096, segment_bytes=1024)
    positions = []
    while (p := spool.append({"body": b"y" * 200})) is not None:
        positions.append(p)
    assert spool.status()["full"] is True
    assert spool.status()["records_not_spooled"] == 1
    spool.commit(positions[-1])
    assert spool.status()["full"] is False
    assert spool.append({"body": b"y" * 200}) is not None
    assert spool.status()["bytes"] < 4096


def test_two_live_processes_never_share_a_slot_and_a_dead_ones_slot_is_adopted(tmp_path):
    first = Spool(tmp_path, max_bytes=MB)
    second = Spool(tmp_path, max_bytes=MB)
    assert first.dir != second.dir
    second.append({"n": "orphan"})
    assert list(first.adopt_orphans()) == []  # second is alive: its slot is locked
    second.close()  # its process died
    adopted = list(first.adopt_orphans())
    assert [(slot, [r["n"] for r in records]) for slot, records in adopted] == [(second.dir, ["orphan"])]


# --- kill -9 of a real server ---------------------------------------------------

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def server_env(tmp_path, live_db, project, api_key, mock_upstream):
    if connection.vendor != "postgresql":
        pytest.skip("needs the real PostgreSQL (make test)")
    from spanlens.core import services

    services.add_provider_key(project, "openai", mock.OPENAI_KEY, "OpenAI prod")
    env = base_env(
        tmp_path,
        DATABASE_URL=database_url_for(connection.settings_dict["NAME"]),
        OPENAI_BASE_URL=mock_upstream.url,
        ENCRYPTION_KEY=os.environ["ENCRYPTION_KEY"],
    )
    migrate = subprocess.run([sys.executable, "manage.py", "clickhouse_migrate"], env=env, cwd=str(ROOT),
                             capture_output=True, text=True, timeout=120)
    assert migrate.returncode == 0, migrate.stdout + migrate.stderr
    return env, api_key[1]


def start(env: dict, **extra: str):
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", "spanlens.asgi:application", "--port", str(port),
            "--log-level", "warning"]
    return spawn(argv, {**env, **extra}, url=f"http://127.0.0.1:{port}/health"), f"http://127.0.0.1:{port}"


def call(base: str, key: str, stream: bool = False) -> None:
    body = {**CHAT, "stream": True} if stream else CHAT
    with httpx.stream("POST", f"{base}/proxy/openai/v1/chat/completions", json=body, timeout=20,
                      headers={"Authorization": f"Bearer {key}"}) as response:
        assert response.status_code == 200
        response.read()


def logged(base: str, key: str) -> list[str]:
    ids, page = [], 1
    while True:
        body = httpx.get(f"{base}/api/v1/requests", params={"limit": 100, "page": page}, timeout=20,
                         headers={"Authorization": f"Bearer {key}"}).json()
        ids += [r["id"] for r in body["data"]]
        if len(body["data"]) < 100:
            return ids
        page += 1


def wait_logged(base: str, key: str, expect: int, timeout: float = 30) -> list[str]:
    deadline = time.monotonic() + timeout
    ids = logged(base, key)
    while len(ids) < expect and time.monotonic() < deadline:
        time.sleep(0.2)
        ids = logged(base, key)
    time.sleep(0.5)  # a surplus (duplicate) row would show up too
    return logged(base, key)


def test_rows_queued_when_the_server_is_killed_are_written_after_the_restart(server_env):
    env, key = server_env
    calls = 60
    # A flush interval no test outlasts: every row is still only queued at the kill.
    ctx, base = start(env, LOG_FLUSH_INTERVAL_MS="600000", LOG_BATCH_SIZE="100000")
    with ctx as proc:
        for i in range(calls):
            call(base, key, stream=i % 3 == 0)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    ctx, base = start(env)
    with ctx:
        ids = wait_logged(base, key, calls)
    assert len(ids) == calls
    assert len(set(ids)) == calls


def test_a_killed_log_builder_is_restarted_and_its_rows_still_arrive(server_env):
    import psutil

    env, key = server_env
    ctx, base = start(env)
    with ctx as proc:
        call(base, key)
        assert len(wait_logged(base, key, 1)) == 1
        [builder] = [p for p in psutil.Process(proc.pid).children() if "spanlens.requestlog.builder" in p.cmdline()]
        builder.kill()
        builder.wait(10)
        for _ in range(5):
            call(base, key)  # spooled while no builder runs
        ids = wait_logged(base, key, 6)
        deep = httpx.get(f"{base}/health/deep", timeout=20).json()["log_writer"]
    assert len(ids) == len(set(ids)) == 6
    assert deep["builder"]["alive"] is True and deep["builder"]["restarts"] >= 1


def test_an_idle_builder_rests_and_the_next_call_brings_it_back(server_env):
    """With no calls for LOG_BUILDER_IDLE_EXIT_S the builder exits (an idle install holds one
    process); health does not call that a failure, and the next call is stored all the same."""
    import psutil

    env, key = server_env

    def builders(pid: int) -> list:
        found = []
        for child in psutil.Process(pid).children():
            try:  # a builder that just exited is a zombie until the writer reaps it (within a second)
                if child.status() != psutil.STATUS_ZOMBIE and "spanlens.requestlog.builder" in child.cmdline():
                    found.append(child)
            except psutil.Error:
                pass
        return found

    ctx, base = start(env, LOG_BUILDER_IDLE_EXIT_S="1.5")
    with ctx as proc:
        call(base, key)
        assert len(wait_logged(base, key, 1)) == 1
        deadline = time.monotonic() + 20
        while builders(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert builders(proc.pid) == []
        deep = httpx.get(f"{base}/health/deep", timeout=20).json()
        assert deep["log_writer"]["builder"]["resting"] is True
        assert deep["log_writer"]["alive"] is True
        assert not any("builder" in w for w in deep.get("warnings", []))

        for _ in range(3):
            call(base, key)  # spooled while no builder runs
        # A builder comes back for them (it may rest again 1.5 s after building them, so it
        # is looked for while the rows arrive, not after).
        back: set[int] = set()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (back and len(logged(base, key)) >= 4):
            back |= {p.pid for p in builders(proc.pid)}
            time.sleep(0.1)
        ids = wait_logged(base, key, 4)
        assert back
        deep = httpx.get(f"{base}/health/deep", timeout=20).json()["log_writer"]
    assert len(ids) == len(set(ids)) == 4
    assert deep["builder"]["restarts"] == 0  # resting is not dying


def test_kills_at_random_moments_under_load_lose_and_duplicate_nothing(server_env):
    env, key = server_env
    sent = 0
    for kill_after_s in (0.4, 1.1, 0.7):
        ctx, base = start(env, LOG_FLUSH_INTERVAL_MS="20")
        with ctx as proc:
            # Warm up (the engine opens on first use), so the kill lands in steady flushing.
            call(base, key)
            sent += 1
            logged(base, key)
            done = []
            stop = threading.Event()

            def load():
                while not stop.is_set():
                    try:
                        call(base, key, stream=len(done) % 2 == 0)
                    except (httpx.HTTPError, AssertionError):
                        return  # the server died under this call: the client never got it
                    done.append(1)

            threads = [threading.Thread(target=load) for _ in range(4)]
            for t in threads:
                t.start()
            time.sleep(kill_after_s)
            os.kill(proc.pid, signal.SIGKILL)  # mid-flush or mid-insert, whatever it was doing
            stop.set()
            for t in threads:
                t.join(timeout=30)
            proc.wait(timeout=10)
            sent += len(done)

    ctx, base = start(env)
    with ctx:
        ids = wait_logged(base, key, sent)
    # Every call a client completed is there; a call cut by the kill may be there too
    # (the response was sent, its row spooled, the client just did not finish reading).
    assert sent <= len(ids) <= sent + 3 * 4
    assert len(set(ids)) == len(ids), "a replayed row was written twice"


def test_a_judge_calls_row_comes_back_from_the_spool_as_itself():
    from types import SimpleNamespace

    from evals.judge_client import JudgeLog
    from proxy.logentry import from_spool, to_spool

    entry = JudgeLog(created_at=1.5, tenant=SimpleNamespace(organization_id="o", project_id="p", api_key_id=None),
                     provider="openai", endpoint="/v1/chat/completions", method="POST", meta={})
    entry.origin = "judge"
    entry.request_body = b"{}"
    back = from_spool(to_spool(entry))
    assert type(back) is JudgeLog
    assert (back.origin, back.id, back.request_body, back.tenant.organization_id) == ("judge", entry.id, b"{}", "o")


def test_a_record_spooled_field_by_field_by_an_earlier_version_still_replays():
    """After an upgrade, the spool a killed server left holds records of the older form."""
    from proxy.logentry import PendingLog, _all_slots, from_spool

    record = {name: None for name in _all_slots(PendingLog) if name != "tenant"}
    record.update({"id": "0b7c8a3e-3f3a-4c55-9d55-1a2b3c4d5e6f", "created_at": 2.5, "provider": "openai",
                   "request_body": b'{"model": "gpt-4o-mini"}', "status_code": 200, "meta": {},
                   "tenant": ("o", "p", None), "class": "proxy.logentry:PendingLog"})
    back = from_spool(record)
    assert type(back) is PendingLog
    assert (back.id, back.created_at, back.provider, back.request_body, back.status_code, back.tenant.project_id) \
        == (record["id"], 2.5, "openai", b'{"model": "gpt-4o-mini"}', 200, "p")


def test_a_record_of_a_version_with_other_fields_replays_by_name():
    """A spooled tuple whose field list is not this version's (a field added, one dropped)
    is read by name: known fields keep their values, a missing one is None."""
    from proxy.logentry import PendingLog, _all_slots, from_spool

    names = [n for n in _all_slots(PendingLog) if n not in ("tenant", "budget_hold")] + ["a_field_of_later"]
    values = {n: None for n in names}
    values.update({"id": "0b7c8a3e-3f3a-4c55-9d55-1a2b3c4d5e6f", "created_at": 3.5, "provider": "anthropic",
                   "status_code": 201, "meta": {"user_id": "u1"}, "a_field_of_later": "x"})
    record = {"id": values["id"], "created_at": 3.5, "class": "proxy.logentry:PendingLog",
              "slots": tuple(reversed(names)), "values": tuple(values[n] for n in reversed(names)),
              "tenant": ("o", "p", "k")}
    back = from_spool(record)
    assert (back.id, back.created_at, back.provider, back.status_code, back.meta, back.budget_hold,
            back.tenant.api_key_id) == (values["id"], 3.5, "anthropic", 201, {"user_id": "u1"}, None, "k")
    assert not hasattr(back, "a_field_of_later")


def test_the_replay_check_finds_stored_ids(db, org, project):
    import uuid
    from datetime import datetime, timedelta, timezone

    from spanlens.requestlog import queries
    from tests.seed import make_row

    row = make_row(org, project)
    queries.insert_requests([row])
    missing = str(uuid.uuid4())
    since = datetime.now(timezone.utc) - timedelta(days=400)
    assert queries.stored_request_ids([row["id"], missing], since=since) == {row["id"]}


def test_a_web_process_logging_through_its_builder_never_loads_pyarrow(server_env):
    """The Arrow batches are made in the builder and read by chDB itself, which runs in the
    store process: the web process maps neither pyarrow (~60 MB of its RSS) nor chDB (~90 MB),
    and the store maps chDB without pyarrow."""
    import psutil

    env, key = server_env
    ctx, base = start(env)
    with ctx as proc:
        for i in range(6):
            call(base, key, stream=i % 2 == 0)
        assert len(wait_logged(base, key, 6)) == 6
        httpx.get(f"{base}/health/deep", timeout=20).raise_for_status()
        web = {line.split()[-1] for line in Path(f"/proc/{proc.pid}/maps").read_text().splitlines()}
        [store] = [p for p in psutil.Process(proc.pid).children() if "spanlens.requestlog.store" in p.cmdline()]
        stored = {line.split()[-1] for line in Path(f"/proc/{store.pid}/maps").read_text().splitlines()}
    assert any(name.endswith("/_chdb.abi3.so") for name in stored)  # the request log is open there
    for mapped in (web, stored):
        assert not [name for name in mapped if "arrow" in name.rsplit("/", 1)[-1] or "/pyarrow/" in name]
    assert not any(name.endswith("/_chdb.abi3.so") for name in web)

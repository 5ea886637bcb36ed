"""The log builder's side of the log path: spool records become Arrow batches, batches
become rows (once each), and odd token counts are kept in range and flagged."""
from __future__ import annotations

import time
from pathlib import Path
import uuid

import orjson

from proxy.auth import Tenant
from proxy.logentry import PendingLog
from spanlens.requestlog import builder, queries
from spanlens.requestlog.spool import Spool
from spanlens.requestlog.writer import _spool_record, write_built


def pending(org: str, project: str, usage: dict | None = None) -> PendingLog:
    entry = PendingLog(created_at=time.time(), tenant=Tenant(org, project, str(uuid.uuid4()), {}),
                       provider="openai", endpoint="v1/chat/completions", method="POST", meta={})
    entry.model = "gpt-4o-mini"
    entry.status_code = 200
    entry.request_body = b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}'
    entry.response_raw = orjson.dumps({
        "id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello"}, "finish_reason": "stop"}],
        "usage": usage if usage is not None else {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
    })
    return entry


def test_token_counts_out_of_range_are_clamped_and_the_row_says_so(db):
    org, project = str(uuid.uuid4()), str(uuid.uuid4())
    normal = pending(org, project).to_row()
    assert normal["prompt_tokens"] == 5 and normal["usage_clamped"] is False
    negative = pending(org, project, {"prompt_tokens": -5, "completion_tokens": 2}).to_row()
    assert negative["prompt_tokens"] == 0 and negative["usage_clamped"] is True
    assert negative["cost_usd"] is None or float(negative["cost_usd"]) >= 0
    huge = pending(org, project, {"prompt_tokens": 2**40, "completion_tokens": "x"}).to_row()
    assert huge["prompt_tokens"] == 2**31 - 1 and huge["completion_tokens"] == 0
    assert huge["total_tokens"] < 2**32 and huge["usage_clamped"] is True
    # The flag belongs to one row: the next normal row is not flagged.
    assert pending(org, project).to_row()["usage_clamped"] is False


def test_spooled_calls_become_one_batch_file_and_then_rows_exactly_once(db, tmp_path):
    org, project = str(uuid.uuid4()), str(uuid.uuid4())
    spool = Spool(tmp_path / "spool", 10 * 1024 * 1024)
    entries = [pending(org, project) for _ in range(5)]
    positions = [spool.append(_spool_record(e)) for e in entries]
    # A row already built (the judge's, a cache hit's) travels as a row, with fewer columns.
    spool.append(_spool_record(pending(org, project).to_row() | {"origin": "eval_judge"}))

    reader = builder.SpoolReader(spool.dir, (0, 0))
    records, more = reader.read(100)
    assert len(records) == 6 and not more
    assert records[4][0] == positions[-1]
    rows = [builder.build(r) for _, r in records]
    path = builder.write_batch_file(tmp_path, records[-1][0], rows, records[0][0])
    assert builder.position_of(path) == records[-1][0]
    assert reader.read(100) == ([], False)  # nothing new since

    assert write_built([path]) == 6
    stored = queries.list_recent_requests(organization_id=org, limit=100)
    assert {e.id for e in entries} < {r["id"] for r in stored}
    assert len({r["id"] for r in stored}) == 6
    # The same batch replayed after a crash (written by a previous process) adds nothing.
    assert write_built([path], replay_before=records[0][0][0] + 1) == 0
    assert len(queries.list_recent_requests(organization_id=org, limit=100)) == 6


def test_a_reader_waits_for_a_record_being_written_and_moves_on_to_newer_segments(tmp_path):
    spool = Spool(tmp_path / "spool", 10 * 1024 * 1024, segment_bytes=200)
    first = spool.append({"row": {"id": "a" * 150}})
    segment = spool.dir / f"{first[0]:08d}.spool"
    with open(segment, "ab") as f:  # half a record: its writer has not finished
        f.write((500).to_bytes(4, "little") + b"xx")
    reader = builder.SpoolReader(spool.dir, (0, 0))
    records, _ = reader.read(10)
    assert [r["row"]["id"][0] for _, r in records] == ["a"]
    second = spool.append({"row": {"id": "b" * 150}})  # a new segment (the first is past 200 bytes)
    assert second[0] == first[0] + 1
    records, _ = reader.read(10)
    assert [r["row"]["id"][0] for _, r in records] == ["b"]


def test_a_reader_takes_records_larger_than_one_read_and_batches_longer_than_one(tmp_path, monkeypatch):
    monkeypatch.setattr(builder, "READ_BYTES", 1000)
    spool = Spool(tmp_path / "spool", 10 * 1024 * 1024)
    small = [spool.append({"row": {"id": f"{i:03d}" + "x" * 100}}) for i in range(30)]  # ~3.5 reads' worth
    big = spool.append({"row": {"id": "big" + "y" * 5000}})  # five reads long on its own
    records, more = builder.SpoolReader(spool.dir, (0, 0)).read(100)
    assert [p for p, _ in records] == small + [big] and not more
    assert records[-1][1]["row"]["id"].startswith("big")


def test_the_builder_writes_arrow_batches_without_loading_pandas(tmp_path):
    """pyarrow would import pandas (~50 MB) on its first conversion; the builder never needs it."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from spanlens.requestlog import builder\n"
        "sys.meta_path.insert(0, builder._WithoutPandas())\n"
        "from pathlib import Path\n"
        f"path = builder.write_batch_file(Path({str(tmp_path)!r}), (1, 2), [{{'id': 'a', 'n': 1}}], (1, 0))\n"
        "import pyarrow as pa\n"
        "assert pa.ipc.open_file(pa.memory_map(str(path))).read_all().num_rows == 1\n"
        "print('pandas' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                         cwd=Path(__file__).resolve().parent.parent)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_the_running_builder_maps_neither_numpy_nor_pandas_and_builds_the_batch(db, tmp_path):
    """The builder child as the web process starts it: a spooled call becomes a batch file,
    and the process never mapped numpy's or pandas's libraries (pyarrow would load both)."""
    spool = Spool(tmp_path / "spool", 10 * 1024 * 1024)
    position = spool.append(_spool_record(pending(str(uuid.uuid4()), str(uuid.uuid4()))))
    child = builder.BuilderProcess(spool.dir).start()
    try:
        deadline = time.monotonic() + 60
        while not child.ready() and time.monotonic() < deadline and child.alive:
            time.sleep(0.05)
        assert [builder.position_of(p) for p in child.ready()] == [position]
        mapped = Path(f"/proc/{child.proc.pid}/maps").read_text()
        assert "pyarrow" in mapped  # it did convert the batch
        assert "numpy" not in mapped and "pandas" not in mapped
    finally:
        child.stop()


def test_django_setup_leaves_the_sign_in_clients_unloaded():
    """Every process (web, log builder, workers) sets Django up; the Supabase and OIDC
    clients (httpx, PyJWT, requests: ~20 MB) load only where someone signs in or out."""
    import subprocess
    import sys

    script = ("import os, sys, django\n"
              "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'spanlens.settings')\n"
              "django.setup()\n"
              "print(sorted(m for m in ('httpx', 'jwt', 'requests', 'mozilla_django_oidc') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                         cwd=Path(__file__).resolve().parent.parent)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_every_stored_row_of_a_batch_reaches_the_after_write_hooks(db, tmp_path, monkeypatch):
    """The live request list hears of every new row, the trace waterfall of the traced
    ones, with what each needs, when rows come through the builder's batch files."""
    from spanlens.requestlog import writer

    heard: list[list[dict]] = []
    monkeypatch.setattr(writer, "_after_write", [heard.append])
    org, project = str(uuid.uuid4()), str(uuid.uuid4())
    plain = [pending(org, project) for _ in range(3)]
    traced = pending(org, project)
    traced.meta = {"trace_id": str(uuid.uuid4()), "span_id": str(uuid.uuid4())}
    spool = Spool(tmp_path / "spool", 10 * 1024 * 1024)
    for entry in plain + [traced]:
        spool.append(_spool_record(entry))
    records, _ = builder.SpoolReader(spool.dir, (0, 0)).read(100)
    path = builder.write_batch_file(tmp_path, records[-1][0], [builder.build(r) for _, r in records], records[0][0])

    assert write_built([path]) == 4
    [rows] = heard
    assert [r["id"] for r in rows] == [e.id for e in plain + [traced]]
    assert {r["organization_id"] for r in rows} == {org}
    linked = [r for r in rows if r.get("trace_id")]
    assert [(r["id"], r["trace_id"], r["span_id"], r["total_tokens"]) for r in linked] == [
        (traced.id, traced.meta["trace_id"], traced.meta["span_id"], 7)]


def test_an_idle_builder_exits_and_starts_again_only_when_rows_wait(db, tmp_path, monkeypatch):
    monkeypatch.setenv("LOG_BUILDER_IDLE_EXIT_S", "1")
    spool = Spool(tmp_path / "spool", 10 * 1024 * 1024)
    first = spool.append(_spool_record(pending(str(uuid.uuid4()), str(uuid.uuid4()))))
    child = builder.BuilderProcess(spool.dir).start()
    try:
        deadline = time.monotonic() + 60
        while not child.ready() and time.monotonic() < deadline and child.alive:
            time.sleep(0.05)
        assert [builder.position_of(p) for p in child.ready()] == [first]
        for path in child.ready():  # stored, as the web process's writer does
            path.unlink()
            builder.sidecar_of(path).unlink()
        spool.commit(first)

        deadline = time.monotonic() + 30
        while child.alive and time.monotonic() < deadline:
            time.sleep(0.05)
        assert child.rested and child.proc.returncode == 0
        child.ensure_running(rows_waiting=False)
        assert not child.alive and child.resting  # nothing to build: it stays down

        second = spool.append(_spool_record(pending(str(uuid.uuid4()), str(uuid.uuid4()))))
        child.ensure_running(rows_waiting=True)
        assert child.alive and not child.resting
        deadline = time.monotonic() + 60
        while not child.ready() and time.monotonic() < deadline and child.alive:
            time.sleep(0.05)
        # Only the new call: the first was committed before the builder rested.
        assert [builder.position_of(p) for p in child.ready()] == [second]
        assert child.restarts == 0
    finally:
        child.stop()

"""`make bench`: Spanlens side by side with direct, a bare pass-through, LiteLLM and Portkey.

One run starts nginx as the fake provider, every server under test, drives them
with wrk from a separate process in interleaved rounds (so drift hits all
alike), measures streams as a client sees them, soaks the proxy for memory,
benchmarks the log path in its own process, and writes bench/results/latest.md.

Settings (environment): BENCH_QUICK=1 (seconds, for the smoke test), BENCH_SECONDS
per cell and round, BENCH_ROUNDS, BENCH_SERVER (ASGI server of the main Spanlens
row), BENCH_ROWS (dashboard sizes, e.g. 1000000,10000000), BENCH_SOAK_S,
BENCH_INSERT_ROWS, BENCH_SKIP (litellm,portkey and any of streams,soak,logpath,cache,inproc),
BENCH_SERVERS (ASGI servers compared, default all three), BENCH_OUT.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from bench import installers, targets as T
from bench.installers import say
from bench.load import WrkResult, run_wrk, write_script
from bench.report import Report, render
from bench.upstream import PACED_MARKER, PACE_MS, Upstream

ROOT = Path(__file__).resolve().parent.parent
CONCURRENCIES = (1, 32)
MESSAGES = [
    {"role": "system", "content": "You are a helpful assistant. Answer briefly and politely."},
    {"role": "user", "content": "Say hello and offer to help with something."},
]
BODIES = {
    "json": {"model": "gpt-4o-mini", "messages": MESSAGES, "temperature": 0},
    "sse": {"model": "gpt-4o-mini", "messages": MESSAGES, "temperature": 0, "stream": True,
            # Asking for usage ourselves keeps every proxy's event sequence the same as upstream's.
            "stream_options": {"include_usage": True}},
}


@dataclass
class Config:
    quick: bool
    seconds: float
    rounds: int
    server: str
    rows: list[int]
    soak_s: float
    insert_rows: int
    stream_requests: int
    settle_s: float
    skip: set[str]
    servers: list[str]
    out: Path

    @classmethod
    def from_env(cls) -> "Config":
        quick = os.environ.get("BENCH_QUICK") == "1"
        env = os.environ.get
        out_default = ROOT / "bench" / "results" / ("quick.md.tmp" if quick else "latest.md")
        skip = {s.strip() for s in env("BENCH_SKIP", "litellm,portkey" if quick else "").split(",") if s.strip()}
        return cls(
            quick=quick,
            seconds=float(env("BENCH_SECONDS", "1" if quick else "3")),
            rounds=int(env("BENCH_ROUNDS", "1" if quick else "2")),
            server=env("BENCH_SERVER", "uvicorn"),
            rows=[int(r) for r in env("BENCH_ROWS", "20000" if quick else "1000000").split(",") if r.strip()],
            soak_s=float(env("BENCH_SOAK_S", "2" if quick else "30")),
            insert_rows=int(env("BENCH_INSERT_ROWS", "6000" if quick else "100000")),
            stream_requests=int(env("BENCH_STREAM_REQUESTS", "5" if quick else "60")),
            settle_s=0.05 if quick else 0.3,
            skip=skip,
            servers=[s.strip() for s in env("BENCH_SERVERS", ",".join(T.ASGI_SERVERS)).split(",") if s.strip()],
            out=Path(env("BENCH_OUT", str(out_default))),
        )


@dataclass
class Cell:
    """One target x body x concurrency: a wrk result per round, and the server's CPU per round."""

    runs: list[WrkResult] = field(default_factory=list)
    cpu_s: list[float] = field(default_factory=list)


def build_targets(cfg: Config, upstream: Upstream, tmp: Path) -> list[T.Target]:
    direct = T.Target("direct", "direct to nginx", base_url=upstream.url,
                      headers={"Authorization": f"Bearer {T.PROVIDER_SECRET}"})
    say("creating the benchmark tenant (manage.py bench_setup)")
    seed = tmp / "var-seed"
    setup = T.spanlens_setup(seed, upstream.url)
    servers = [cfg.server] + [s for s in T.ASGI_SERVERS if s != cfg.server and s in cfg.servers]
    passes = [T.passthrough(kind, upstream.url, tmp) for kind in servers]
    spans = [T.spanlens(kind, upstream.url, tmp, seed, setup) for kind in servers]
    skip_reason = "skipped in quick mode" if cfg.quick else "skipped by BENCH_SKIP"
    litellm = T.litellm(upstream.url, tmp, skip_reason if "litellm" in cfg.skip else None)
    portkey = T.portkey(upstream.url, tmp, skip_reason if "portkey" in cfg.skip else None)
    main = [direct, passes[0], spans[0], T.spanlens_unlogged(spans[0]), T.spanlens_limited(spans[0], setup),
            litellm, portkey]
    if "cache" not in cfg.skip:
        main.append(T.spanlens_cached(spans[0]))
    if "inproc" not in cfg.skip:
        # The trade-off of the log builder process, measured: rows built in the web process.
        main.append(T.spanlens_variant(cfg.server, upstream.url, tmp, seed, setup, key="inproc",
                                       label="rows built in the web process (LOG_BUILD_PROCESS=0)",
                                       env={"LOG_BUILD_PROCESS": "0"}))
    return main + passes[1:] + spans[1:]


def measure_cell(target: T.Target, script: Path, conc: int, cfg: Config, cell: Cell) -> None:
    before = target.server.usage().cpu_s if target.server else 0.0
    result = run_wrk(target.url, script, connections=conc, seconds=cfg.seconds)
    # Let the log writer flush what this cell queued, so its CPU is counted here.
    time.sleep(cfg.settle_s)
    after = target.server.usage().cpu_s if target.server else 0.0
    cell.runs.append(result)
    cell.cpu_s.append(after - before)


def run_matrix(cfg: Config, targets: list[T.Target], tmp: Path) -> dict[tuple[str, str, int], Cell]:
    scripts = {}
    for t in targets:
        if t.ready:
            for mode, body in BODIES.items():
                scripts[(t.key, mode)] = write_script(tmp / f"{t.key}-{mode}.lua", orjson.dumps(body), t.headers)
    ready = [t for t in targets if t.ready]
    say(f"warming up {len(ready)} targets")
    for t in ready:
        for mode in BODIES:
            try:
                # A slow gateway on a busy machine may answer nothing in the first second: retry, longer.
                for seconds in (1, 3, 5):
                    warm = run_wrk(t.url, scripts[(t.key, mode)], connections=8, seconds=seconds)
                    if warm.requests or warm.errors:
                        break
            except RuntimeError as exc:
                t.mode_unavailable[mode] = f"not available: {exc}"[:200]
                continue
            if warm.requests == 0 or warm.errors > warm.requests // 2:
                reason = f"not available: {warm.errors} errors of {warm.requests} requests while warming up"
                hint = t.server.error_hint() if t.server and warm.errors else ""
                t.mode_unavailable[mode] = reason + (f" ({hint})" if hint else "")
                say(f"{t.label} ({mode}): {t.mode_unavailable[mode]}")
        if len(t.mode_unavailable) == len(BODIES):
            t.unavailable = next(iter(t.mode_unavailable.values()))
    cells: dict[tuple[str, str, int], Cell] = {}
    ready = [t for t in targets if t.ready]
    total = cfg.rounds * len(CONCURRENCIES) * sum(t.runs(mode) for t in ready for mode in BODIES)
    done = 0
    for rnd in range(cfg.rounds):
        for mode in BODIES:
            for conc in CONCURRENCIES:
                for t in ready:
                    if not t.runs(mode):
                        continue
                    cell = cells.setdefault((t.key, mode, conc), Cell())
                    measure_cell(t, scripts[(t.key, mode)], conc, cfg, cell)
                    done += 1
                    r = cell.runs[-1]
                    say(f"[{done}/{total}] round {rnd + 1} {mode:4} c={conc:<2} {t.label:55} "
                        f"{r.rps:9.0f} req/s  p50 {r.p50_ms:7.3f} ms  errors {r.errors}")
    return cells


def run_streams(cfg: Config, targets: list[T.Target], tmp: Path) -> dict:
    keys = ("direct", f"pass-{cfg.server}", f"spanlens-{cfg.server}", "litellm", "portkey")
    chosen = [t for t in targets if t.key in keys and t.runs("sse")]
    body = dict(BODIES["sse"], user=PACED_MARKER)
    spec = {
        "targets": [{"name": t.key, "url": t.url, "headers": {**t.headers, "Content-Type": "application/json"}}
                    for t in chosen],
        "body": orjson.dumps(body).decode(),
        "rounds": cfg.rounds,
        "per_round": cfg.stream_requests,
        "warmup": 3,
        "max_seconds": 60 if cfg.quick else 300,
    }
    path = tmp / "streams.json"
    path.write_text(json.dumps(spec))
    say(f"streams: {cfg.stream_requests * cfg.rounds} paced requests per target (events {PACE_MS} ms apart upstream)")
    out = subprocess.run([sys.executable, "-m", "bench.streams", str(path)], cwd=ROOT, capture_output=True,
                         text=True, timeout=spec["max_seconds"] + 60)
    if out.returncode != 0:
        say("stream client failed: " + out.stderr[-500:])
        return {}
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_soak(cfg: Config, target: T.Target, tmp: Path) -> list[tuple[float, int]]:
    """c=32 for BENCH_SOAK_S, RSS sampled twice a second: does memory stay flat?"""
    if not target.ready:
        return []
    script = write_script(tmp / "soak.lua", orjson.dumps(BODIES["json"]), target.headers)
    say(f"soak: {cfg.soak_s:.0f} s at c=32 through {target.label}")
    samples: list[tuple[float, int]] = []
    worker = threading.Thread(target=run_wrk, args=(target.url, script),
                              kwargs={"connections": 32, "seconds": cfg.soak_s}, daemon=True)
    start = time.monotonic()
    worker.start()
    while worker.is_alive() and time.monotonic() - start < cfg.soak_s + 30:
        samples.append((time.monotonic() - start, target.server.usage().rss_bytes))
        time.sleep(0.5)
    worker.join(5)
    return samples


def run_logpath(cfg: Config, tmp: Path) -> dict:
    var = tmp / "var-logpath"
    var.mkdir()
    env = T.spanlens_env(var, "http://127.0.0.1:9")
    argv = [sys.executable, "-m", "bench.logpath", "--insert-rows", str(cfg.insert_rows),
            "--rows", ",".join(str(r) for r in cfg.rows), "--repeats", "5" if cfg.quick else "20"]
    say("log path: " + " ".join(argv[2:]))
    out = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=300 + sum(cfg.rows) / 20_000)
    if out.returncode != 0:
        say("log path benchmark failed: " + out.stderr[-800:])
        return {"error": out.stderr.strip().splitlines()[-1][:300] if out.stderr.strip() else "failed"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_limits(cfg: Config, tmp: Path) -> dict:
    var = tmp / "var-limits"
    var.mkdir()
    argv = [sys.executable, "-m", "bench.limits", "--json", "--calls", "2000" if cfg.quick else "20000"]
    out = subprocess.run(argv, cwd=ROOT, env=T.spanlens_env(var, "http://127.0.0.1:9"), capture_output=True,
                         text=True, timeout=300)
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1][:300] if out.stderr.strip() else "failed"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    cfg = Config.from_env()
    started = time.time()
    installers.ensure_tools()
    tmp = Path(tempfile.mkdtemp(prefix="spanlens-bench-"))
    upstream = Upstream(tmp).start()
    say(f"upstream nginx on {upstream.url} (temp dir {tmp})")
    targets: list[T.Target] = []
    try:
        targets = build_targets(cfg, upstream, tmp)
        say("starting " + ", ".join(t.label for t in targets if t.ready and t.server))
        T.start_all(targets)
        cells = run_matrix(cfg, targets, tmp)
        streams = run_streams(cfg, targets, tmp) if "streams" not in cfg.skip else {}
        main_span = next(t for t in targets if t.key == f"spanlens-{cfg.server}")
        soak = run_soak(cfg, main_span, tmp) if "soak" not in cfg.skip else []
        # After the load: what each process of the main Spanlens server holds once idle
        # (its log builder has rested by then, as it does on an idle install).
        if main_span.server and main_span.server.alive():
            T.read_api(main_span)  # a server whose dashboard was looked at
        if not cfg.quick:
            say(f"idle: reading the main server's memory in {T.idle_wait_s():.0f} s")
            time.sleep(T.idle_wait_s())
        processes = main_span.server.rss_by_process() if main_span.server and main_span.server.alive() else []
        peaks = {t.key: (t.server.peak_rss if t.server else 0) for t in targets}
    finally:
        T.stop_all(targets)
        upstream.stop()
    logged = {}
    for t in targets:
        if t.key.startswith("spanlens-") and not t.key.endswith(("-drop", "-cache", "-limits")) and t.server and t.server.proc:
            try:
                logged[t.key] = T.spanlens_logged(t)
            except RuntimeError as exc:
                logged[t.key] = {"error": str(exc)[-200:]}
    logpath = run_logpath(cfg, tmp) if "logpath" not in cfg.skip else {"error": "skipped by BENCH_SKIP"}
    limits = run_limits(cfg, tmp)
    report = Report(cfg=cfg, targets=targets, cells=cells, streams=streams, soak=soak, peaks=peaks,
                    logged=logged, logpath=logpath, elapsed_s=time.time() - started, processes=processes,
                    limits=limits)
    text = render(report)
    cfg.out.parent.mkdir(parents=True, exist_ok=True)
    cfg.out.write_text(text)
    print(text)
    say(f"written to {cfg.out.relative_to(ROOT) if cfg.out.is_relative_to(ROOT) else cfg.out}")
    if os.environ.get("BENCH_KEEP_TMP") != "1":
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

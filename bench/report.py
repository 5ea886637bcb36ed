"""The benchmark's Markdown report: machine, versions, command, tables, and targets met or missed."""
from __future__ import annotations

import os
import platform
import statistics
import subprocess
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata

import psutil

from bench import installers
from bench.load import wrk_version
from bench.targets import idle_wait_s
from bench.upstream import PACE_MS, nginx_binary

MODES = {"json": "Non-streaming", "sse": "Streaming"}


@dataclass
class Report:
    cfg: object
    targets: list
    cells: dict
    streams: dict
    soak: list
    peaks: dict
    logged: dict
    logpath: dict
    elapsed_s: float
    processes: list = None
    limits: dict = field(default_factory=dict)


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


def med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def ms(value: float | None, digits: int = 2) -> str:
    if value is None or value != value:
        return "–"
    return f"{value:.{digits}f}"


def signed(value: float | None) -> str:
    if value is None or value != value:
        return "–"
    return f"{value:+.2f}"


class Numbers:
    """Summaries of the wrk cells: medians over rounds, overheads paired with direct per round."""

    def __init__(self, report: Report):
        self.r = report

    def cell(self, key: str, mode: str, conc: int):
        return self.r.cells.get((key, mode, conc))

    def p(self, key: str, mode: str, conc: int, q: int) -> float | None:
        c = self.cell(key, mode, conc)
        return med([getattr(run, f"p{q}_ms") for run in c.runs]) if c else None

    def added(self, key: str, mode: str, conc: int, q: int) -> float | None:
        c, d = self.cell(key, mode, conc), self.cell("direct", mode, conc)
        if not c or not d:
            return None
        return med([getattr(a, f"p{q}_ms") - getattr(b, f"p{q}_ms") for a, b in zip(c.runs, d.runs)])

    def rps(self, key: str, mode: str, conc: int) -> float | None:
        c = self.cell(key, mode, conc)
        if not c:
            return None
        seconds = sum(run.seconds for run in c.runs)
        return sum(run.requests for run in c.runs) / seconds if seconds else None

    def errors(self, key: str, mode: str) -> int:
        return sum(run.errors for conc in (1, 32) if (c := self.cell(key, mode, conc)) for run in c.runs)

    def cpu_per_1k(self, key: str, mode: str, conc: int = 32) -> float | None:
        c = self.cell(key, mode, conc)
        if not c or key == "direct":
            return None
        requests = sum(run.requests for run in c.runs)
        return sum(c.cpu_s) / requests * 1000 if requests else None


def _versions() -> list[tuple[str, str]]:
    def pkg(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    nginx = subprocess.run([nginx_binary(), "-v"], capture_output=True, text=True).stderr.strip().split("/")[-1]
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip() or "not installed"
    out = [("Python", platform.python_version()), ("nginx", nginx), ("wrk", wrk_version().split(" [")[0])]
    out += [(name, pkg(name)) for name in ("uvicorn", "uvloop", "httptools", "granian", "daphne", "aiohttp",
                                             "Django", "chdb-core-lite", "orjson")]
    lit = installers.litellm_version() if installers.LITELLM_BIN.exists() else "not installed"
    port = installers.portkey_version() if installers.PORTKEY_ENTRY.exists() else "not installed"
    out += [("LiteLLM", lit), ("Portkey gateway", port), ("Node.js", node)]
    return out


def _machine() -> str:
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    mem = psutil.virtual_memory().total / 2**30
    return f"{os.cpu_count()} cores ({model}), {mem:.0f} GiB RAM, {platform.system()} {platform.release()}"


def _command(cfg) -> str:
    settings = " ".join(f"{k}={v}" for k, v in sorted(os.environ.items()) if k.startswith("BENCH_"))
    return f"{settings} make bench".strip()


def render(r: Report) -> str:
    cfg, n = r.cfg, Numbers(r)
    by_key = {t.key: t for t in r.targets}
    main = f"spanlens-{cfg.server}"
    floor = f"pass-{cfg.server}"
    main_keys = ["direct", floor, main, f"{main}-drop", f"{main}-limits", "litellm", "portkey"]
    lines: list[str] = []
    w = lines.append

    w("# Spanlens benchmark")
    w("")
    w(f"- When: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {r.elapsed_s / 60:.1f} min"
      + (" — QUICK MODE (smoke-test settings, numbers are not meaningful)" if cfg.quick else ""))
    w(f"- Machine: {_machine()}")
    load = os.getloadavg()
    w(f"- Load average at the end: {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (1/5/15 min)"
      + (" — other work shared this machine during the run: absolute numbers are lower and noisier; "
         "CPU s per 1,000 requests and the interleaved comparisons hold up best" if load[1] > 2.5 else ""))
    w(f"- Command: `{_command(cfg)}`")
    w(f"- Load: wrk, 1 thread, {cfg.rounds} interleaved round(s) of {cfg.seconds:g} s per cell, "
      "after a 1 s warm-up per target; c=1 and c=32 connections, kept alive")
    w("- Percentiles are wrk's, which corrects for coordinated omission: a server stall counts for every "
      "request a client sending at the measured rate would have sent during it, so p95/p99 show stalls "
      "that a one-at-a-time client meets only in its maximum")
    w("- Upstream: nginx (1 worker, Lua) on 127.0.0.1 answering fixed OpenAI-shaped bodies: "
      "a chat.completion JSON, or a 13-event `text/event-stream` ending in a usage chunk and `data: [DONE]`")
    w(f"- Spanlens: `spanlens.asgi:application` under {cfg.server} (1 process), API-key auth on, every call logged "
      "with full bodies to embedded ClickHouse (chDB) through the batch writer; SQLite for keys (cached in-process)")
    w("- Comparisons (logged vs not logged vs bare pass-through vs direct, cache hit, rows built in the web "
      "process) are measured in this one run, cells interleaved round by round and medians taken, because "
      "the 2-core machine is shared: compare rows of one report, not numbers across reports")
    w("- Versions: " + ", ".join(f"{k} {v}" for k, v in _versions()))
    w("")
    unavailable = [(t, m) for t in r.targets for m in MODES if not t.runs(m)]
    for mode, title in MODES.items():
        w(f"## {title}: latency (ms)")
        w("")
        w("| Target | c=1 p50 | c=1 p95 | c=1 p99 | added vs direct c=1 p50 / p95 / p99 "
          "| c=32 p50 | c=32 p95 | c=32 p99 | added vs direct c=32 p50 / p95 / p99 |")
        w("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for key in main_keys + [t.key for t in r.targets if t.key not in main_keys]:
            t = by_key.get(key)
            if t is None:
                continue
            if not t.runs(mode):
                w(f"| {t.label} | {t.why_not(mode)} | | | | | | | |")
                continue
            added = [" / ".join(signed(n.added(key, mode, c, q)) for q in (50, 95, 99)) if key != "direct" else "–"
                     for c in (1, 32)]
            w(f"| {t.label} | {ms(n.p(key, mode, 1, 50))} | {ms(n.p(key, mode, 1, 95))} | {ms(n.p(key, mode, 1, 99))} "
              f"| {added[0]} | {ms(n.p(key, mode, 32, 50))} | {ms(n.p(key, mode, 32, 95))} "
              f"| {ms(n.p(key, mode, 32, 99))} | {added[1]} |")
        w("")
        w(f"## {title}: throughput and cost")
        w("")
        w("| Target | req/s c=1 | req/s c=32 | vs bare pass-through | CPU s per 1,000 req (c=32) | peak RSS MB | errors |")
        w("|---|---:|---:|---:|---:|---:|---:|")
        floor_rps = n.rps(floor, mode, 32)
        for key in main_keys + [t.key for t in r.targets if t.key not in main_keys]:
            t = by_key.get(key)
            if t is None:
                continue
            if not t.runs(mode):
                w(f"| {t.label} | {t.why_not(mode)} | | | | | |")
                continue
            rps = n.rps(key, mode, 32)
            ratio = f"{rps / floor_rps * 100:.0f}%" if rps and floor_rps else "–"
            peak = r.peaks.get(key, 0)
            w(f"| {t.label} | {ms(n.rps(key, mode, 1), 0)} | {ms(rps, 0)} | {ratio} | {ms(n.cpu_per_1k(key, mode), 3)} "
              f"| {ms(peak / 2**20, 0) if peak else '–'} | {n.errors(key, mode)} |")
        w("")

    stream_rows = _streams_section(r, w)
    recommended = _servers_section(r, n, w)
    log_cost = _logging_section(r, n, w, main, floor)
    _limits_section(r, n, w, main)
    rss = _memory_section(r, w, by_key.get(main))
    insert_rps, dash = _logpath_section(r, w)
    _targets_section(r, n, w, main, floor, stream_rows, log_cost, rss, insert_rps, dash)
    if recommended:
        w(f"**Recommended ASGI server: {recommended}** (most Spanlens requests/s at c=32, non-streaming).")
        w("")
    if unavailable:
        w("Rows without numbers: " + "; ".join(f"{t.label} ({MODES[m].lower()}): {t.why_not(m)}"
                                                for t, m in unavailable))
        w("")
    return "\n".join(lines) + "\n"


def _streams_section(r: Report, w) -> dict:
    w(f"## Streams as a client sees them (upstream paces events {PACE_MS} ms apart; one request at a time)")
    w("")
    w("| Target | requests | TTFB p50 | TTFB p95 | added TTFB p50 / p95 | event gap p50 | event gap p95 "
      "| added gap p50 / p95 | errors |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    direct = r.streams.get("direct") or {}
    rows = {}
    labels = {t.key: t.label for t in r.targets}
    for key, data in r.streams.items():
        ttfb, gaps = data["ttfb_ms"], data["gap_ms"]
        row = {
            "ttfb50": pct(ttfb, 50), "ttfb95": pct(ttfb, 95), "gap50": pct(gaps, 50), "gap95": pct(gaps, 95),
        }
        if key != "direct" and direct.get("ttfb_ms"):
            row.update({
                "add_ttfb50": row["ttfb50"] - pct(direct["ttfb_ms"], 50),
                "add_ttfb95": row["ttfb95"] - pct(direct["ttfb_ms"], 95),
                "add_gap50": row["gap50"] - pct(direct["gap_ms"], 50),
                "add_gap95": row["gap95"] - pct(direct["gap_ms"], 95),
            })
        rows[key] = row
        add_t = f"{signed(row.get('add_ttfb50'))} / {signed(row.get('add_ttfb95'))}" if key != "direct" else "–"
        add_g = f"{signed(row.get('add_gap50'))} / {signed(row.get('add_gap95'))}" if key != "direct" else "–"
        err = f"{data['errors']}" + (f" ({data['error'][:80]})" if data["errors"] else "")
        w(f"| {labels.get(key, key)} | {len(ttfb)} | {ms(row['ttfb50'])} | {ms(row['ttfb95'])} | {add_t} "
          f"| {ms(row['gap50'])} | {ms(row['gap95'])} | {add_g} | {err} |")
    if not r.streams:
        w("| stream client failed | | | | | | | | |")
    w("")
    return rows


def _servers_section(r: Report, n: Numbers, w) -> str | None:
    from bench.targets import ASGI_SERVERS

    w("## ASGI servers (1 process each)")
    w("")
    w("| Server | pass-through c=1 p50 | pass-through req/s c=32 | Spanlens c=1 p50 | Spanlens c=1 p95 "
      "| Spanlens req/s c=32 | Spanlens stream req/s c=32 |")
    w("|---|---:|---:|---:|---:|---:|---:|")
    rates: dict[str, float] = {}
    by_key = {t.key: t for t in r.targets}
    for kind in ASGI_SERVERS:
        p, s = by_key.get(f"pass-{kind}"), by_key.get(f"spanlens-{kind}")
        if not (p and p.ready) and not (s and s.ready):
            reason = (s.unavailable if s else None) or (p.unavailable if p else "not run")
            w(f"| {kind} | {reason} | | | | | |")
            continue
        rps = n.rps(f"spanlens-{kind}", "json", 32)
        if rps:
            rates[kind] = rps
        w(f"| {kind} | {ms(n.p(f'pass-{kind}', 'json', 1, 50))} | {ms(n.rps(f'pass-{kind}', 'json', 32), 0)} "
          f"| {ms(n.p(f'spanlens-{kind}', 'json', 1, 50))} | {ms(n.p(f'spanlens-{kind}', 'json', 1, 95))} "
          f"| {ms(rps, 0)} | {ms(n.rps(f'spanlens-{kind}', 'sse', 32), 0)} |")
    w("")
    if not rates:
        return None
    best = max(rates, key=rates.get)
    close = [k for k in rates if k != best and rates[k] >= 0.9 * rates[best]]
    if close:
        # Within 10% is within this benchmark's run-to-run noise: say so rather than crown one.
        return f"{best}, with {', '.join(close)} within 10% (a tie at this precision)"
    return best


def _logging_section(r: Report, n: Numbers, w, main: str, floor: str) -> float | None:
    on, off = n.rps(main, "json", 32), n.rps(f"{main}-drop", "json", 32)
    on_s, off_s = n.rps(main, "sse", 32), n.rps(f"{main}-drop", "sse", 32)
    w("## What logging costs (same server; `x-spanlens-sample: drop` marks a call not to be persisted)")
    w("")
    if not (on and off):
        w("Not measured: the Spanlens server did not run.")
        w("")
        return None
    cost = (1 - on / off) * 100
    w(f"- Non-streaming c=32: {on:.0f} req/s logged vs {off:.0f} req/s not logged: logging costs {cost:.1f}%")
    if on_s and off_s:
        w(f"- Streaming c=32: {on_s:.0f} req/s logged vs {off_s:.0f} req/s not logged: "
          f"logging costs {(1 - on_s / off_s) * 100:.1f}%")
    # The logged-vs-bare target has a ceiling set before logging starts: the proxy's own
    # work per call, measured by the calls it does not log.
    for mode, title in MODES.items():
        drop, bare = n.rps(f"{main}-drop", mode, 32), n.rps(floor, mode, 32)
        cpu_drop, cpu_bare = n.cpu_per_1k(f"{main}-drop", mode), n.cpu_per_1k(floor, mode)
        if drop and bare and cpu_drop and cpu_bare:
            w(f"- {title} c=32, not logged: {drop / bare:.0%} of the bare pass-through's req/s at "
              f"{cpu_drop / cpu_bare:.2f}× its CPU per call; logged calls stay below that whatever logging "
              f"costs (logging at 15% would leave {drop / bare * 0.85:.0%})")
    for key, counts in r.logged.items():
        if "error" in counts:
            w(f"- {key}: could not count logged rows ({counts['error']})")
            continue
        w(f"- {key}: {counts['clickhouse_rows']:,} calls in the request log after the run, "
          f"{counts['fallback_rows']:,} in the fallback queue"
          + (" — LOGGING FAILED, the logged numbers above are not valid" if counts["fallback_rows"] else ""))
    w("")
    return cost


def _memory_section(r: Report, w, target) -> float | None:
    w("## Proxy memory over the run")
    w("")
    if target is None or target.server is None or not target.server.rss_samples:
        w("Not measured.")
        w("")
        return None
    samples = target.server.rss_samples
    third = max(1, len(samples) // 3)
    # Thirds, not single samples: chDB's caches and merges make RSS wobble from one moment to the next.
    first = statistics.mean(s[1] for s in samples[:third])
    last = statistics.mean(s[1] for s in samples[-third:])
    span = samples[-1][0] - samples[0][0]
    growth = (last - first) / first * 100
    w(f"- {target.label}: mean RSS {first / 2**20:.0f} MB over the first third of the run → {last / 2**20:.0f} MB "
      f"over the last third ({growth:+.1f}% over {span:.0f} s, {len(samples)} samples after warm-up, "
      f"peak {max(s[1] for s in samples) / 2**20:.0f} MB)")
    peak = max(s[1] for s in samples)
    w(f"- Peak RSS of the whole server (web process, its log builder and its request-log store) under load: {peak / 2**20:.0f} MB "
      f"(target ≤ 200 MB)")
    if r.processes:
        idle = sum(rss for _, rss in r.processes)
        when = ("right after it and one API read (BENCH_QUICK)" if r.cfg.quick else
                f"{idle_wait_s():.0f} s after it and one read through the API, as the dashboard makes: "
                "LOG_BUILDER_IDLE_EXIT_S + 12 s, an idle server's log builder and store rest")
        w(f"- Idle after the load ({when}): {idle / 2**20:.0f} MB (target ≤ 120 MB): "
          + ", ".join(f"{what} {rss / 2**20:.0f} MB" for what, rss in r.processes)
          + ". `python -m bench.memory` breaks a web process down (bench/results/memory.md)")
    soak = soak_growth(r.soak)
    if soak:
        warm, first, last, growth_after = soak
        w(f"- Soak at c=32 for {r.soak[-1][0]:.0f} s: mean RSS {first / 2**20:.0f} MB over the first third after a "
          f"{warm:.0f} s warm-up → {last / 2**20:.0f} MB over the last third ({growth_after:+.1f}%; first sample "
          f"{r.soak[0][1] / 2**20:.0f} MB, peak {max(s[1] for s in r.soak) / 2**20:.0f} MB)")
    w("")
    return growth


def soak_growth(samples: list) -> tuple[float, float, float, float] | None:
    """(warm-up s, mean RSS of the first third after it, of the last third, growth %) of a soak.

    The warm-up (a fifth of the soak, at most 60 s) is left out: the first calls fill
    caches, pools and the log's first parts, which is start-up, not growth."""
    if len(samples) < 4:
        return None
    warm = min(60.0, samples[-1][0] / 5)
    after = [s for s in samples if s[0] >= warm]
    third = max(1, len(after) // 3)
    first = statistics.mean(s[1] for s in after[:third])
    last = statistics.mean(s[1] for s in after[-third:])
    return warm, first, last, (last - first) / first * 100


def _limits_section(r: Report, n: Numbers, w, main: str) -> None:
    """Budgets and rate limits: the check timed on its own, and the same server with four budgets on."""
    from bench.limits import table

    w("## What budget checks cost (same server; a project with four budgets, none reached)")
    w("")
    on, off = n.p(f"{main}-limits", "json", 1, 50), n.p(main, "json", 1, 50)
    if on is not None and off is not None and on == on and off == off:  # both rows ran
        w(f"- Non-streaming c=1 p50: {on:.3f} ms with budgets vs {off:.3f} ms without "
          f"({(on - off) * 1000:+.0f} µs, within run-to-run noise when small)")
    if r.limits.get("error"):
        w(f"- The check on its own could not be timed: {r.limits['error']}")
    elif r.limits:
        w("- The check on its own (`make bench-limits`, enforce.admit with four rules):")
        w("")
        w(table(r.limits))
    w("")


def _logpath_section(r: Report, w) -> tuple[float | None, dict]:
    lp = r.logpath
    w("## Log path (own process, own chDB folder)")
    w("")
    if "error" in lp or not lp:
        w(f"Failed: {lp.get('error', 'no result')}")
        w("")
        return None, {}
    ins = lp["insert"]
    w(f"- Insert: {ins['rows_per_s']:,.0f} rows/s through `queries.insert_requests` in batches of {ins['batch']} "
      f"({ins['rows']:,} rows, {ins['body_bytes']:,} bytes of bodies per row, engine {lp['engine']})")
    for fmt, rate in (ins.get("formats") or {}).items():
        w(f"  - {fmt}: {rate:,.0f} rows/s")
    w("")
    w("Dashboard reads over generated rows (p50 / p95 ms, after one warm call):")
    w("")
    sizes = [block["rows"] for block in lp["reads"]]
    w("| Read | " + " | ".join(f"{s:,} rows" for s in sizes) + " |")
    w("|---|" + "---:|" * len(sizes))
    names = sorted({name for block in lp["reads"] for name in block["reads"]})
    worst: dict[int, tuple[float, str]] = {}
    for name in names:
        cells = []
        for block in lp["reads"]:
            t = block["reads"].get(name, {})
            if "p95_ms" in t:
                cells.append(f"{t['p50_ms']:.1f} / {t['p95_ms']:.1f}")
                worst[block["rows"]] = max(worst.get(block["rows"], (0.0, "")), (t["p95_ms"], name))
            else:
                cells.append(t.get("note", "–"))
        w(f"| `{name}` | " + " | ".join(cells) + " |")
    w("")
    return ins["rows_per_s"], worst


def _targets_section(r, n, w, main, floor, streams, log_cost, rss, insert_rps, dash) -> None:
    w("## Targets")
    w("")
    w("| Target | Goal | Measured | Result |")
    w("|---|---|---|---|")

    def row(name: str, goal: str, value: float | None, ok, fmt: str = "{:.2f}") -> None:
        if value is None or value != value:
            w(f"| {name} | {goal} | not measured | MISS |")
            return
        w(f"| {name} | {goal} | {fmt.format(value)} | {'PASS' if ok(value) else 'MISS'} |")

    for mode, title in MODES.items():
        row(f"{title}: added latency c=1 p50", "≤ 0.5 ms", n.added(main, mode, 1, 50), lambda v: v <= 0.5,
            "{:.2f} ms")
        row(f"{title}: added latency c=1 p95", "≤ 1 ms", n.added(main, mode, 1, 95), lambda v: v <= 1.0, "{:.2f} ms")
    row("Cache hit: added latency c=1 p50 (non-streaming)", "≤ 0.5 ms", n.added(f"{main}-cache", "json", 1, 50),
        lambda v: v <= 0.5, "{:.2f} ms")
    s = streams.get(main, {})
    row("Streaming: added inter-chunk delay p95", "≤ 0.2 ms", s.get("add_gap95"), lambda v: v <= 0.2, "{:.2f} ms")
    rps = n.rps(main, "json", 32)
    for key, goal, factor in ((floor, "≥ 50% of bare pass-through", 0.5), ("portkey", "≥ 3× Portkey", 3),
                              ("litellm", "≥ 30× LiteLLM", 30)):
        other = n.rps(key, "json", 32)
        value = rps / other if rps and other else None
        fmt = "{:.0%} of its req/s" if factor < 1 else "{:.1f}× its req/s"
        row(f"Non-streaming req/s at c=32, auth + full logging", goal, value, lambda v, f=factor: v >= f, fmt)
    row("Logging on vs off (req/s at c=32)", "≤ 10% slower", log_cost, lambda v: v <= 10, "{:.1f}%")
    # The log path's own targets: one server, logged beside not logged and the bare pass-through.
    for mode, title in MODES.items():
        row(f"{title}: added latency c=1 p99", "≤ 2 ms", n.added(main, mode, 1, 99), lambda v: v <= 2.0, "{:.2f} ms")
        c, d = n.cell(main, mode, 1), n.cell("direct", mode, 1)
        worst = max((a.max_ms - b.max_ms for a, b in zip(c.runs, d.runs)), default=None) if c and d else None
        row(f"{title}: added max latency c=1 (worst round)", "≤ 10 ms", worst, lambda v: v <= 10.0, "{:.2f} ms")
        on, off, bare = n.rps(main, mode, 32), n.rps(f"{main}-drop", mode, 32), n.rps(floor, mode, 32)
        row(f"{title}: logged req/s at c=32 vs bare pass-through", "≥ 70%", on / bare if on and bare else None,
            lambda v: v >= 0.7, "{:.0%}")
        row(f"{title}: logging on vs off (req/s at c=32)", "≤ 15% slower",
            (1 - on / off) * 100 if on and off else None, lambda v: v <= 15, "{:.1f}%")
    row("Proxy RSS over the run", "flat within 10%", rss, lambda v: abs(v) <= 10, "{:+.1f}%")
    soak = soak_growth(r.soak)
    soak_s = r.soak[-1][0] if r.soak else 0
    row(f"Soak at c=32 for {soak_s:.0f} s (BENCH_SOAK_S; the 10-minute soak is 600): RSS after warm-up",
        "flat within 5%",
        soak[3] if soak else None, lambda v: abs(v) <= 5, "{:+.1f}%")
    target = next((t for t in r.targets if t.key == main), None)
    peak = max((s[1] for s in target.server.rss_samples), default=None) if target and target.server else None
    row("Peak RSS under load (web process + log builder + store)", "≤ 200 MB", peak / 2**20 if peak else None,
        lambda v: v <= 200, "{:.0f} MB")
    idle = sum(rss for _, rss in r.processes) if r.processes else None
    row("Idle RSS after the load (web process + log builder + store)", "≤ 120 MB", idle / 2**20 if idle else None,
        lambda v: v <= 120, "{:.0f} MB")
    row("Rows/s into chDB (batched, bodies ~3 KB)", "≥ 50,000", insert_rps, lambda v: v >= 50_000, "{:,.0f}")
    if 10_000_000 in dash:
        value, name = dash[10_000_000]
        row("Dashboard reads p95 at 10M rows (slowest read)", "≤ 100 ms", value, lambda v: v <= 100,
            "{:.1f} ms (`" + name + "`)")
    else:
        largest = max(dash) if dash else None
        measured = (f"not run (BENCH_ROWS=…,10000000); {dash[largest][0]:.1f} ms (`{dash[largest][1]}`) "
                    f"at {largest:,} rows" if largest else "not run")
        w(f"| Dashboard reads p95 at 10M rows (slowest read) | ≤ 100 ms | {measured} | NOT RUN |")
    w("")

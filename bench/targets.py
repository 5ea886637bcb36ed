"""What the load goes through: direct, the bare pass-through, Spanlens, LiteLLM, Portkey.

Each target is a base URL, the path and headers that make the same OpenAI chat
call through it, and the server process we measure (none for direct).
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from bench import installers
from bench.procs import Server, free_port, wait_http

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
ASGI_SERVERS = ("uvicorn", "granian", "daphne")
PROVIDER_SECRET = "sk-bench-0000000000000000"
CHAT = "/v1/chat/completions"


@dataclass
class Target:
    key: str
    label: str
    base_url: str = ""
    path: str = CHAT
    headers: dict[str, str] = field(default_factory=dict)
    server: Server | None = None
    unavailable: str | None = None  # why this row has no numbers
    mode_unavailable: dict[str, str] = field(default_factory=dict)  # "sse" -> why, when only one mode fails
    startup_timeout: float = 60.0

    @property
    def url(self) -> str:
        return self.base_url + self.path

    @property
    def ready(self) -> bool:
        return self.unavailable is None

    def runs(self, mode: str) -> bool:
        return self.ready and mode not in self.mode_unavailable

    def why_not(self, mode: str) -> str:
        return self.unavailable or self.mode_unavailable.get(mode, "")


def asgi_argv(kind: str, app: str, port: int) -> list[str] | None:
    binary = VENV_BIN / kind
    if not binary.exists():
        return None
    if kind == "uvicorn":
        return [str(binary), app, "--host", "127.0.0.1", "--port", str(port), "--loop", "uvloop",
                "--http", "httptools", "--no-access-log", "--log-level", "warning", "--timeout-keep-alive", "120"]
    if kind == "granian":
        return [str(binary), "--interface", "asgi", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
                "--loop", "uvloop", "--http", "1", "--no-ws", "--log-level", "warning", app]
    if kind == "daphne":
        return [str(binary), "-b", "127.0.0.1", "-p", str(port), "-v", "0", app]
    raise ValueError(kind)


def server_version(kind: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(kind)
    except metadata.PackageNotFoundError:
        return "not installed"


def _python_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "CLICKHOUSE_URL", "REDIS_URL", "CELERY_BROKER_URL")}
    env.update({"PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", **extra})
    return env


def idle_wait_s() -> float:
    """How long after a load a Spanlens server is read idle: past its log builder's rest
    (LOG_BUILDER_IDLE_EXIT_S, 60 s by default, as the servers here inherit this environment)
    and its store's (CHDB_STORE_IDLE_EXIT_S),
    the writer reaping it and chDB's next memory purge (CHDB_MEMORY_PURGE_S, 10 s)."""
    rests = [float(os.environ.get(name) or 60) for name in ("LOG_BUILDER_IDLE_EXIT_S", "CHDB_STORE_IDLE_EXIT_S")]
    rests = [r for r in rests if r > 0]
    return max(rests) + 12 if rests else 15.0


def read_api(target: Target) -> int:
    """One read of the request log through the API, as the dashboard makes them: Django's
    URLconf (every page's views) loads in the web process, as it does once anyone looks.
    Returns the HTTP status."""
    import urllib.request

    request = urllib.request.Request(f"{target.base_url}/api/v1/requests?limit=20",
                                     headers={"Authorization": target.headers.get("Authorization", "")})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status


def passthrough(kind: str, upstream_url: str, tmp: Path) -> Target:
    target = Target(f"pass-{kind}", f"bare pass-through ({kind})")
    port = free_port()
    argv = asgi_argv(kind, "bench.passthrough:application", port)
    if argv is None:
        target.unavailable = f"not available: {kind} not installed"
        return target
    target.base_url = f"http://127.0.0.1:{port}"
    target.path = "/proxy/openai" + CHAT
    target.headers = {"Authorization": f"Bearer {PROVIDER_SECRET}"}
    target.server = Server(target.label, argv, env=_python_env({"BENCH_UPSTREAM": upstream_url}), cwd=ROOT,
                           log=tmp / "logs" / f"{target.key}.log")
    return target


def spanlens_env(var_dir: Path, upstream_url: str) -> dict[str, str]:
    return _python_env({
        "DJANGO_SETTINGS_MODULE": "spanlens.settings",
        "SPANLENS_VAR_DIR": str(var_dir),
        "CHDB_PATH": str(var_dir / "clickhouse"),
        "OPENAI_BASE_URL": upstream_url,
        "ANTHROPIC_BASE_URL": upstream_url,
        "LOG_LEVEL": "WARNING",
        "DEBUG": "0",
    })


def _manage(var_dir: Path, upstream_url: str, *args: str) -> str:
    out = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=spanlens_env(var_dir, upstream_url),
        capture_output=True, text=True, timeout=300,
    )
    if out.returncode != 0:
        raise RuntimeError(f"manage.py {args[0]} failed: " + out.stderr[-2000:])
    return out.stdout


def spanlens_setup(var_dir: Path, upstream_url: str) -> dict:
    """Run `manage.py bench_setup` into a fresh var dir; returns its org/project/key JSON."""
    out = _manage(var_dir, upstream_url, "bench_setup", "--provider-secret", PROVIDER_SECRET)
    return json.loads(out.strip().splitlines()[-1])


def spanlens_logged(target: Target) -> dict:
    """After the server stopped: rows its chDB holds and rows it sent to the fallback queue."""
    if target.server is None or target.server.env is None:
        return {}
    var_dir = Path(target.server.env["SPANLENS_VAR_DIR"])
    out = _manage(var_dir, target.server.env["OPENAI_BASE_URL"], "bench_setup", "--count")
    return json.loads(out.strip().splitlines()[-1])


def spanlens(kind: str, upstream_url: str, tmp: Path, seed: Path, setup: dict, name: str = "") -> Target:
    """Spanlens in production shape: auth on, every call logged with full bodies to chDB.

    Each server gets its own copy of the seeded var dir: chDB opens a folder in one process only.
    """
    target = Target(f"spanlens-{kind}", f"Spanlens ({kind})")
    port = free_port()
    argv = asgi_argv(kind, "spanlens.asgi:application", port)
    if argv is None:
        target.unavailable = f"not available: {kind} not installed"
        return target
    var_dir = tmp / f"var-{kind}{'-' + name if name else ''}"
    # The relational store and secrets are copied; chDB's folder is not copyable
    # (its database directories are symlinks into the original), so each gets its own.
    shutil.copytree(seed, var_dir, ignore=shutil.ignore_patterns("clickhouse"))
    _manage(var_dir, upstream_url, "clickhouse_migrate")
    target.base_url = f"http://127.0.0.1:{port}"
    target.path = "/proxy/openai" + CHAT
    target.headers = {"Authorization": f"Bearer {setup['api_key']}"}
    target.server = Server(target.label, argv, env=spanlens_env(var_dir, upstream_url), cwd=ROOT,
                           log=tmp / "logs" / f"{target.key}.log")
    return target


def spanlens_variant(kind: str, upstream_url: str, tmp: Path, seed: Path, setup: dict, *, key: str, label: str,
                     env: dict[str, str]) -> Target:
    """The main Spanlens server with a setting changed, beside it in the same run."""
    target = spanlens(kind, upstream_url, tmp, seed, setup, name=key)
    target.key, target.label = f"spanlens-{kind}-{key}", f"Spanlens ({kind}), {label}"
    if target.server is not None:
        target.server.env.update(env)
        target.server.name = target.label
    return target


def spanlens_cached(of: Target) -> Target:
    """The same server, each call asking for the response cache: after the first, every call is a hit."""
    target = Target(f"{of.key}-cache", f"{of.label}, cache hit (x-spanlens-cache: on)",
                    base_url=of.base_url, path=of.path, headers={**of.headers, "x-spanlens-cache": "on"},
                    unavailable=of.unavailable)
    target.server = of.server
    return target


def spanlens_unlogged(of: Target) -> Target:
    """The same server, each call marked not to be persisted: the price of logging."""
    target = Target(f"{of.key}-drop", f"{of.label}, not logged (x-spanlens-sample: drop)",
                    base_url=of.base_url, path=of.path, headers={**of.headers, "x-spanlens-sample": "drop"},
                    unavailable=of.unavailable)
    target.server = of.server
    return target


def spanlens_limited(of: Target, setup: dict) -> Target:
    """The same server, each call through a project with four budgets (none reached): the
    price of checking budgets and rate limits, with in-process counters."""
    target = Target(f"{of.key}-limits", f"{of.label}, budgets and rate limits on (4 rules)",
                    base_url=of.base_url, path=of.path,
                    headers={**of.headers, "Authorization": f"Bearer {setup.get('limits_api_key', '')}",
                             "x-spanlens-user": "bench-user"},
                    unavailable=of.unavailable if setup.get("limits_api_key") else "not available: no limited key")
    target.server = of.server
    return target


def litellm(upstream_url: str, tmp: Path, skip: str | None) -> Target:
    target = Target("litellm", "LiteLLM proxy", startup_timeout=180)
    reason = skip or installers.ensure_litellm()
    if reason:
        target.unavailable = f"not available: {reason}"
        return target
    target.label = f"LiteLLM proxy {installers.litellm_version()}"
    port = free_port()
    config = tmp / "litellm.yaml"
    config.write_text(
        "model_list:\n"
        "  - model_name: gpt-4o-mini\n"
        "    litellm_params:\n"
        "      model: openai/gpt-4o-mini\n"
        f"      api_base: {upstream_url}/v1\n"
        f"      api_key: {PROVIDER_SECRET}\n"
        "litellm_settings:\n"
        "  telemetry: false\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "PYTHONPATH")}
    master = "sk-" + secrets.token_hex(24)  # LiteLLM refuses to start without a strong master key
    # No outside network here: use the bundled price map instead of fetching one.
    env.update({"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR", "DISABLE_SCHEMA_UPDATE": "true",
                "LITELLM_MASTER_KEY": master})
    target.base_url = f"http://127.0.0.1:{port}"
    target.headers = {"Authorization": f"Bearer {master}"}
    target.server = Server(
        target.label,
        [str(installers.LITELLM_BIN), "--config", str(config), "--host", "127.0.0.1", "--port", str(port),
         "--num_workers", "1"],
        env=env, cwd=tmp, log=tmp / "logs" / "litellm.log",
    )
    return target


def portkey(upstream_url: str, tmp: Path, skip: str | None) -> Target:
    target = Target("portkey", "Portkey gateway", startup_timeout=60)
    reason = skip or installers.ensure_portkey()
    if reason:
        target.unavailable = f"not available: {reason}"
        return target
    target.label = f"Portkey gateway {installers.portkey_version()}"
    port = free_port()
    target.base_url = f"http://127.0.0.1:{port}"
    target.headers = {
        "Authorization": f"Bearer {PROVIDER_SECRET}",
        "x-portkey-provider": "openai",
        "x-portkey-custom-host": f"{upstream_url}/v1",
    }
    target.server = Server(
        target.label, ["node", str(installers.PORTKEY_ENTRY), f"--port={port}", "--headless"],
        env={**os.environ, "NODE_ENV": "production"}, cwd=tmp, log=tmp / "logs" / "portkey.log",
    )
    return target


def start_all(targets: list[Target]) -> None:
    """Start every server at once, then wait for each; one that never answers makes its rows unavailable."""
    servers: dict[int, list[Target]] = {}
    for t in targets:
        if t.ready and t.server:
            servers.setdefault(id(t.server), []).append(t)
    for group in servers.values():
        group[0].server.start()
    for group in servers.values():
        first = group[0]
        if not wait_http(first.base_url + "/health", timeout=first.startup_timeout, proc=first.server.proc):
            reason = "not available: did not start (" + " ".join(first.server.tail(400).split())[-240:] + ")"
            installers.say(f"{first.label}: {reason}")
            for t in group:
                t.unavailable = reason


def stop_all(targets: list[Target]) -> None:
    for t in targets:
        if t.server:
            t.server.stop()

"""What the benchmark needs beyond .venv, installed on first use (and said so).

nginx, wrk and nginx's Lua module come from Debian; LiteLLM goes into its own
venv (bench/.venv-litellm) so its pins never touch ours; Portkey's gateway
comes from npm into bench/node_modules. A comparison that cannot be installed
is reported as not available, never fatal.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from bench import upstream

BENCH_DIR = Path(__file__).resolve().parent
LITELLM_VENV = BENCH_DIR / ".venv-litellm"
LITELLM_BIN = LITELLM_VENV / "bin" / "litellm"
PORTKEY_ENTRY = BENCH_DIR / "node_modules" / "@portkey-ai" / "gateway" / "build" / "start-server.js"
APT_PACKAGES = {"nginx": "nginx", "wrk": "wrk", "libnginx-mod-http-lua": "libnginx-mod-http-lua"}


def say(message: str) -> None:
    print(f"[bench] {message}", flush=True)


def ensure_tools() -> None:
    """nginx + Lua module + wrk, from apt when missing. Raises with the reason if that fails."""
    missing = upstream.missing_tools()
    if not missing:
        return
    packages = [APT_PACKAGES[m] for m in missing]
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise RuntimeError(f"missing {', '.join(missing)}: install them with apt-get install -y {' '.join(packages)}")
    say(f"installing {' '.join(packages)} with apt-get (missing: {', '.join(missing)})")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = ["apt-get", "install", "-y", "-q", *packages]
    if subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, stdout=subprocess.DEVNULL)
        subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, check=True)
    still = upstream.missing_tools()
    if still:
        raise RuntimeError(f"still missing after apt-get: {', '.join(still)}")


def ensure_litellm() -> str | None:
    """None when LiteLLM's proxy is ready to run, else why not."""
    if LITELLM_BIN.exists():
        return None
    say("first run: creating bench/.venv-litellm and installing 'litellm[proxy]' from PyPI (a few minutes)")
    try:
        subprocess.run([sys.executable, "-m", "venv", str(LITELLM_VENV)], check=True, timeout=120)
        pip = subprocess.run(
            [str(LITELLM_VENV / "bin" / "pip"), "install", "-q", "litellm[proxy]"],
            capture_output=True, text=True, timeout=900,
        )
    except (subprocess.SubprocessError, OSError) as exc:
        return f"install failed ({exc})"
    if pip.returncode != 0 or not LITELLM_BIN.exists():
        return "pip install 'litellm[proxy]' failed: " + (pip.stderr.strip().splitlines() or ["?"])[-1][:200]
    return None


def ensure_portkey() -> str | None:
    """None when Portkey's gateway is ready to run, else why not."""
    if PORTKEY_ENTRY.exists():
        return None
    if not shutil.which("npm") or not shutil.which("node"):
        return "node/npm not installed"
    say("first run: npm install @portkey-ai/gateway under bench/")
    try:
        out = subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund"], cwd=BENCH_DIR, capture_output=True, text=True, timeout=600
        )
    except (subprocess.SubprocessError, OSError) as exc:
        return f"npm install failed ({exc})"
    if out.returncode != 0 or not PORTKEY_ENTRY.exists():
        return "npm install @portkey-ai/gateway failed: " + (out.stderr.strip().splitlines() or ["?"])[-1][:200]
    return None


def litellm_version() -> str:
    out = subprocess.run(
        [str(LITELLM_VENV / "bin" / "python"), "-c", "import importlib.metadata as m; print(m.version('litellm'))"],
        capture_output=True, text=True,
    )
    return out.stdout.strip() or "?"


def portkey_version() -> str:
    import json

    try:
        return json.loads((PORTKEY_ENTRY.parent.parent / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return "?"

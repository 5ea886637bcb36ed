"""The documentation site: it builds with every link resolving, works offline, is served at
/docs/, and every example in it works against a running server as written."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests import docs_examples
from tests.procs import ROOT, base_env, free_port

MKDOCS = Path(sys.executable).parent / "mkdocs"
EXAMPLES = docs_examples.examples()


@pytest.fixture(scope="module")
def built_site(tmp_path_factory) -> Path:
    site = tmp_path_factory.mktemp("site")
    result = subprocess.run([str(MKDOCS), "build", "--strict", "--site-dir", str(site)], cwd=ROOT,
                            capture_output=True, text=True, timeout=300,
                            env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    # --strict: a link to a missing page or anchor, or a page left out of the nav, fails the build.
    assert result.returncode == 0, result.stderr[-3000:]
    return site


def test_the_site_builds_and_needs_no_network(built_site):
    pages = list(built_site.rglob("*.html"))
    assert len(pages) >= 15
    remote = re.compile(r"""(?:src|href)=["'](?:https?:)?//(?!localhost)""")
    for page in pages:
        text = page.read_text()
        # Links out to other sites are fine; nothing the page loads may come from one.
        loads = [m.group() for m in re.finditer(r"<(?:script|link|img)[^>]+>", text) if remote.search(m.group())
                 and 'rel="canonical"' not in m.group()]
        assert not loads, (page.name, loads[:3])
    assert "fonts.googleapis" not in "".join(p.read_text() for p in built_site.rglob("*.css"))


def test_generated_pages_are_current(built_site):
    data_model = (built_site / "data-model.html").read_text()
    for column in ("sample_rate", "cache_hit", "cost_source", "prompt_tokens"):
        assert f"<code>{column}</code>" in data_model
    for model in ("Organization", "PromptVersion", "Trace", "EvalRun"):
        assert f"<strong>{model}</strong>" in data_model
    troubleshooting = (built_site / "troubleshooting.html").read_text()
    assert "ENCRYPTION_KEY" in troubleshooting and "openssl rand -base64 32" in troubleshooting


def test_every_screenshot_in_the_docs_is_taken_by_a_browser_test():
    shots = {p.name for p in (ROOT / "docs" / "screenshots").glob("*.png")}
    tests = "".join(p.read_text() for p in (ROOT / "tests").glob("test_*.py"))
    assert shots
    assert not [s for s in shots if f'"{s}"' not in tests], "a screenshot no test refreshes would go stale"


def test_the_running_server_serves_the_docs(built_site, client, settings):
    settings.DOCS_SITE_DIR = str(built_site)
    page = client.get("/docs/")
    assert page.status_code == 200 and b"Two commands" in b"".join(page.streaming_content)
    policy = page["Content-Security-Policy"]
    hashes = json.loads((built_site / "csp-hashes.json").read_text())
    assert hashes and all(h in policy for h in hashes)
    assert "'unsafe-inline'" not in policy.split("script-src", 1)[1].split(";")[0]
    assert client.get("/docs/quickstart.html").status_code == 200
    assert client.get("/docs/search/search_index.js").status_code == 200
    assert client.get("/docs/no-such-page.html").status_code == 404
    assert client.get("/docs/../manage.py").status_code == 404


def test_without_a_build_the_docs_say_how_to_build_them(client, settings, tmp_path):
    settings.DOCS_SITE_DIR = str(tmp_path)
    page = client.get("/docs/")
    assert page.status_code == 404 and b"make docs" in page.content


def test_examples_that_cannot_run_here_say_why():
    not_run = [e for e in EXAMPLES if e.not_run]
    assert len(EXAMPLES) >= 20
    # Only what needs something this machine lacks (Docker, the internet, a terminal, the
    # server itself) is left out; everything else runs below.
    assert len(not_run) <= len(EXAMPLES) // 3, [e.name for e in not_run]


# ------------------------------------------------------------------ the examples, run


@pytest.fixture(scope="module")
def docs_server(tmp_path_factory, mock_upstream):
    """`make run` as the quick start starts it: a fresh embedded install, its first-run output read."""
    from tests import mock_upstream as mock

    tmp = tmp_path_factory.mktemp("docs-server")
    port = free_port()
    providers = {f"{p.upper()}_BASE_URL": f"{mock_upstream.url}/{p}/v1" for p in mock.COMPAT_KEYS if p != "custom"}
    env = base_env(tmp, PORT=str(port), PYTHONUNBUFFERED="1", OPENAI_BASE_URL=mock_upstream.url,
                   ANTHROPIC_BASE_URL=mock_upstream.url, GEMINI_BASE_URL=mock_upstream.url,
                   AZURE_OPENAI_BASE_URL=mock_upstream.url, HOME=str(tmp), **providers)
    env.pop("CHDB_PATH", None)
    proc = subprocess.Popen([sys.executable, "manage.py", "run_embedded"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    printed: list[str] = []
    try:
        for line in proc.stdout:
            printed.append(line)
            if line.startswith("Spanlens on "):
                break
        key = next(re.search(r"sl_live_[\w-]+", l).group() for l in printed if "Spanlens API key" in l)
        login = next(re.search(r": (\S+) / (\S+)", l).groups() for l in printed if "Dashboard login" in l)
        url = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                httpx.get(url + "/health", timeout=1)
                break
            except httpx.TransportError:
                import time
                time.sleep(0.1)
        yield {"url": url, "key": key, "login": login, "env": env, "mock": mock_upstream}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def _values(server) -> dict[str, str]:
    from tests import mock_upstream as mock

    listed = httpx.get(server["url"] + "/api/v1/requests?limit=1",
                       headers={"Authorization": f"Bearer {server['key']}"}, timeout=10)
    assert listed.status_code == 200, listed.text
    newest = listed.json()["data"]
    return {
        "http://localhost:8000": server["url"],
        "sl_live_...": server["key"],
        "sk-ant-...": mock.ANTHROPIC_KEY,
        "sk-...": mock.OPENAI_KEY,
        "gsk_...": mock.COMPAT_KEYS["groq"],
        "sk-or-...": mock.COMPAT_KEYS["openrouter"],
        "https://<resource>.openai.azure.com": server["mock"].url,
        "<azure-key>": mock.AZURE_KEY,
        # Your own OpenAI-compatible servers: the mock's, here.
        "http://10.0.0.5:8000/v1": f"{server['mock'].url}/custom/v1",
        "http://gpu-box:8000/v1": f"{server['mock'].url}/custom/v1",
        # Where a reader keeps backups: beside the install, here.
        "/backups/": str(Path(server["env"]["SPANLENS_VAR_DIR"]).parent / "backups") + "/",
        "<id>": newest[0]["id"] if newest else "00000000-0000-0000-0000-000000000000",
    }


def _run(example, server, tmp_path) -> subprocess.CompletedProcess:
    code = docs_examples.substitute(example.code, _values(server))
    from tests import mock_upstream as mock

    # The reader's shell: their Spanlens key, and an OpenAI key and endpoint of their own for
    # the examples that call OpenAI directly (the mock's, here).
    env = {**server["env"], "SPANLENS_API_KEY": server["key"], "SPANLENS_BASE_URL": server["url"],
           "OPENAI_BASE_URL": f"{server['mock'].url}/v1", "OPENAI_API_KEY": mock.OPENAI_KEY,
           "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    if example.lang == "python":
        script = tmp_path / "example.py"
        script.write_text(code)
        return subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=120)
    # `make run` is the server this test started; the reader's other shell runs the rest.
    lines = [l for l in code.splitlines() if l.strip() not in ("make run",)]
    return subprocess.run(["bash", "-euo", "pipefail", "-c", "\n".join(lines)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


PAGES = sorted({e.page for e in EXAMPLES}, key=lambda p: (p not in ("README.md", "quickstart.md"), p))


@pytest.mark.timeout(900)
def test_every_example_works_as_written(docs_server, tmp_path):
    # One test, pages in order: the quick start's provider key and first call come first,
    # as for a reader who starts there.
    failures = []
    for page in PAGES:
        for example in docs_examples.scripts([e for e in EXAMPLES if e.page == page]):
            if example.not_run:
                continue
            result = _run(example, docs_server, tmp_path)
            if result.returncode != 0:
                failures.append(f"{example.name} ({example.lang}) exited {result.returncode}:\n"
                                f"{result.stdout[-1500:]}\n{result.stderr[-1500:]}")
    assert not failures, "\n\n".join(failures)
    # And what the pages promise is there: the calls in the log, the agent's trace, the prompt.
    auth = {"Authorization": f"Bearer {docs_server['key']}"}
    logged = httpx.get(docs_server["url"] + "/api/v1/requests?limit=100", headers=auth, timeout=10).json()
    assert logged["meta"]["total"] >= 5
    traces = httpx.get(docs_server["url"] + "/api/v1/traces", headers=auth, timeout=10).json()["data"]
    assert "support-agent" in {t["name"] for t in traces}
    prompt = httpx.get(docs_server["url"] + "/api/v1/prompts/support-reply?label=production", headers=auth,
                       timeout=10).json()["data"]
    assert prompt["version"] == 1

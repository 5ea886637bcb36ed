"""`spanlens init` and `spanlens test` against a running server."""
from __future__ import annotations

import pytest

pytest.importorskip("libcst")

from spanlens import cli  # noqa: E402
from spanlens.wizard import envfile, rewrite  # noqa: E402

pytestmark = pytest.mark.usefixtures("live_db")

APP = '''"""The app."""
from openai import OpenAI, AsyncOpenAI as Async
import anthropic

client = OpenAI()  # the main client
fast = Async(
    api_key=os.environ["OPENAI_API_KEY"],
    max_retries=5,
)
claude = anthropic.Anthropic(api_key=KEY, timeout=30)


class OpenAIish:
    pass


def OpenAI2():
    pass


other = OpenAI2()
'''


def test_the_rewrite_points_only_real_constructors_at_the_proxy_and_keeps_the_rest():
    after, calls = rewrite.rewrite_source(APP)
    assert calls == 3
    assert 'client = OpenAI(base_url=os.environ["SPANLENS_BASE_URL"] + "/proxy/openai/v1", ' \
           'api_key=os.environ["SPANLENS_API_KEY"])  # the main client' in after
    assert '''fast = Async(
    base_url=os.environ["SPANLENS_BASE_URL"] + "/proxy/openai/v1",
    api_key=os.environ["SPANLENS_API_KEY"],
    max_retries=5,
)''' in after
    assert 'anthropic.Anthropic(base_url=os.environ["SPANLENS_BASE_URL"] + "/proxy/anthropic", ' \
           'api_key=os.environ["SPANLENS_API_KEY"], timeout=30)' in after
    assert "OPENAI_API_KEY" not in after and "other = OpenAI2()" in after
    assert "import os\n" in after
    assert rewrite.rewrite_source(after) == (after, 0)  # a second run changes nothing


def test_env_lines_are_replaced_in_place_and_others_kept():
    before = "# mine\nDEBUG=1\nSPANLENS_API_KEY=old\n"
    after = envfile.updated(before, {"SPANLENS_BASE_URL": "http://x:8000", "SPANLENS_API_KEY": "sl_live_new"})
    assert after == "# mine\nDEBUG=1\nSPANLENS_API_KEY=sl_live_new\nSPANLENS_BASE_URL=http://x:8000\n"


def test_init_checks_the_key_shows_the_diff_and_writes_nothing_without_an_answer(
        spanlens_server, api_key, tmp_path, capsys, monkeypatch):
    (tmp_path / "app.py").write_text(APP)
    (tmp_path / ".venv" / "lib").mkdir(parents=True)
    (tmp_path / ".venv" / "lib" / "vendored.py").write_text("from openai import OpenAI\nOpenAI()\n")
    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    code = cli.main(["init", "--server-url", spanlens_server.url, "--api-key", api_key[1], "--path", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 1 and "Nothing written." in out
    assert "accepts the key" in out and "+++ b/app.py" in out and "vendored" not in out
    assert (tmp_path / "app.py").read_text() == APP and not (tmp_path / ".env").exists()
    assert api_key[1] not in out  # the key is shown shortened


def test_init_writes_code_and_env_once_confirmed(spanlens_server, api_key, tmp_path, capsys):
    (tmp_path / "app.py").write_text(APP)
    code = cli.main(["init", "--server-url", spanlens_server.url + "/", "--api-key", api_key[1],
                     "--path", str(tmp_path), "--yes"])
    out = capsys.readouterr().out
    assert code == 0 and "3 client constructor(s) in 1 file(s)" in out
    assert "SPANLENS_BASE_URL" in (tmp_path / "app.py").read_text()
    assert envfile.updated("", {}) == "\n"
    env = (tmp_path / ".env").read_text()
    assert f"SPANLENS_BASE_URL={spanlens_server.url}\n" in env and f"SPANLENS_API_KEY={api_key[1]}\n" in env
    assert "add .env to .gitignore" in out


def test_init_refuses_a_revoked_or_foreign_key(spanlens_server, tmp_path, capsys):
    code = cli.main(["init", "--server-url", spanlens_server.url, "--api-key", "sl_live_not-a-real-key",
                     "--path", str(tmp_path), "--yes"])
    assert code == 1 and "refused the key" in capsys.readouterr().err
    assert not (tmp_path / ".env").exists()


def test_test_sends_one_call_and_prints_the_link_to_its_row(spanlens_server, api_key, upstream, provider_keys,
                                                           tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text(f"SPANLENS_BASE_URL={spanlens_server.url}\nSPANLENS_API_KEY={api_key[1]}\n")
    monkeypatch.delenv("SPANLENS_API_KEY", raising=False)
    monkeypatch.delenv("SPANLENS_BASE_URL", raising=False)
    code = cli.main(["test"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "openai answered 200" in out
    link = out.strip().splitlines()[-1].strip()
    assert link.startswith(f"{spanlens_server.url}/requests/") and "sessionId" not in link

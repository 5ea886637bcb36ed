"""SDK pieces on their own: header helpers, sampling decisions, the bounded queue,
and that the SDK never imports Django."""
from __future__ import annotations

import random
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from spanlens.sdk.headers import with_log_body, with_prompt_version, with_session, with_user
from spanlens.sdk.sampling import Sampling
from spanlens.sdk.transport import Transport


def test_header_helpers_combine():
    combined = with_user("u1") | with_session("s1") | with_prompt_version("support@3")
    assert combined.headers == {
        "x-spanlens-user": "u1", "x-spanlens-session": "s1", "x-spanlens-prompt-version": "support@3"}
    assert with_user("u1").with_log_body("meta").headers == {"x-spanlens-user": "u1", "x-spanlens-log-body": "meta"}
    assert dict(with_session("s")) == {"x-spanlens-session": "s"}
    version_id = "0b7e6f4c-0a4e-4a55-9e1e-6f1d2b0c9a11"
    assert with_prompt_version(version_id).headers == {"x-spanlens-prompt-version": version_id}


@pytest.mark.parametrize("make", [lambda: with_user(""), lambda: with_log_body("some"),
                                  lambda: with_prompt_version("name@"), lambda: with_prompt_version("support")])
def test_header_helpers_refuse_bad_values(make):
    with pytest.raises(ValueError):
        make()


def test_sampling_decides_per_call_at_the_rate():
    rng = random.Random(7).random
    sampling = Sampling.of({"rate": 0.1, "always_log_errors": True})
    decisions = [sampling.decide(rng) for _ in range(20_000)]
    assert set(decisions) == {None, "errors"}
    assert 0.09 < decisions.count(None) / len(decisions) < 0.11
    assert {Sampling.of({"rate": 0.5, "alwaysLogErrors": False}).decide(rng) for _ in range(100)} == {None, "drop"}
    assert Sampling.of(1.0).decide() is None
    with pytest.raises(ValueError):
        Sampling.of(1.5)


def test_the_queue_is_bounded_and_drops_the_oldest():
    transport = Transport(lambda: "http://127.0.0.1:9/api/v1/ingest", lambda: "sl_live_x", max_queue=5,
                          batch_size=100, flush_interval=60)
    for i in range(8):
        transport.enqueue("span", {"id": str(i)})
    assert transport.dropped == 3
    assert [p["id"] for _, p in transport._queue] == ["3", "4", "5", "6", "7"]


class _Answer(BaseHTTPRequestHandler):
    status = 400
    hits = 0

    def do_POST(self):
        type(self).hits += 1
        self.rfile.read(int(self.headers["content-length"]))
        self.send_response(self.status)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("status, retried", [(400, False), (503, True)])
def test_refused_batches_are_not_retried_but_server_errors_are(status, retried):
    handler = type("Handler", (_Answer,), {"status": status, "hits": 0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        transport = Transport(lambda: f"http://127.0.0.1:{server.server_address[1]}/", lambda: "sl_live_x",
                              flush_interval=0.01)
        transport.enqueue("span", {"id": "a"})
        assert transport.flush(timeout=1.0) is (not retried)
        assert (handler.hits > 1) is retried
        assert transport.rejected == (0 if retried else 1)
        transport.close(0)
    finally:
        server.shutdown()
        server.server_close()


def test_the_sdk_never_imports_django():
    code = (
        "import sys, spanlens, spanlens.openai, spanlens.anthropic, spanlens.sdk.client, spanlens.sdk.hooks\n"
        "spanlens.Spanlens(api_key='sl_live_x', base_url='http://127.0.0.1:9')\n"
        "assert not [m for m in sys.modules if m.split('.')[0] == 'django'], 'django was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_huge_inputs_are_sent_as_a_bounded_preview():
    from spanlens.sdk.tracing import MAX_FIELD_BYTES, bounded

    huge = {"rows": [{"text": "x" * 5000} for _ in range(100)]}
    sent = bounded(huge)
    assert sent["truncated"] is True and sent["bytes"] > MAX_FIELD_BYTES and len(sent["preview"]) <= 10_000
    assert bounded({"small": [1, 2]}) == {"small": [1, 2]}


def test_a_batch_too_large_for_the_server_is_split():
    sizes = []

    class TooLarge(BaseHTTPRequestHandler):
        def do_POST(self):
            import json as json_module

            body = json_module.loads(self.rfile.read(int(self.headers["content-length"])))
            sizes.append(len(body["spans"]))
            status = 413 if len(body["spans"]) > 3 else 200
            self.send_response(status)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), TooLarge)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        transport = Transport(lambda: f"http://127.0.0.1:{server.server_address[1]}/", lambda: "sl_live_x",
                              batch_size=10, flush_interval=0.01)
        for i in range(10):
            transport.enqueue("span", {"id": str(i)})
        assert transport.flush(timeout=5)
        assert transport.sent == 10 and transport.rejected == 0
        assert sizes[:3] == [10, 5, 2]
    finally:
        server.shutdown()
        server.server_close()

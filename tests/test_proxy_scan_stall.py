"""One tenant's body cannot stall another tenant's calls.

The log writer scans stored bodies in a thread that shares the GIL with the
event loop; a body that made a detector backtrack held every other call.
"""
from __future__ import annotations

import statistics
import time

import openai

from spanlens.core import services
from tests import mock_upstream as mock


def _timed_call(client) -> float:
    started = time.perf_counter()
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    return time.perf_counter() - started


def test_a_huge_non_ascii_body_does_not_slow_another_tenants_call(
    live_db, upstream, provider_keys, openai_client, spanlens_server, org, other_org_and_project, read_rows
):
    other_org, other_project = other_org_and_project
    services.add_provider_key(other_project, "openai", mock.OPENAI_KEY, "OpenAI")
    other_key = services.create_api_key(other_project).raw_key
    with openai.OpenAI(base_url=f"{spanlens_server.url}/proxy/openai/v1", api_key=other_key,
                       max_retries=0) as other:
        # A busy machine delays single calls too; a stalled writer delays them in every round.
        added = [_added_latency(openai_client, other) for _ in range(3)]
    assert min(added) < 0.100, added
    rows = read_rows(org.id, expect=3)
    assert len(rows) == 3 and all(r["request_body"].endswith("first 65536 kept]") for r in rows)


def _added_latency(big_client, other) -> float:
    """How much longer the other tenant's slowest call takes while the big body is logged."""
    baseline = statistics.median(_timed_call(other) for _ in range(5))
    # 1 MB of one letter after an "é": the old email pattern spent seconds on its 64 KB stored copy.
    content = "é " + "a" * (1024 * 1024)
    # The proxy logs after the response has left: the scan starts about now.
    big_client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": content}])
    during = []
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        during.append(_timed_call(other))
    return max(during) - baseline

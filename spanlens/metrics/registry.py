"""The metrics the proxy updates as it serves; read by /metrics.

Counters and the histogram live in prometheus_client's default registry, which
is per process unless PROMETHEUS_MULTIPROC_DIR is set (then every web worker
writes its values to files there and /metrics sums them; `serve` sets it up).
"""
from __future__ import annotations

from prometheus_client import Counter, Histogram

PROXIED_CALLS = Counter(
    "spanlens_proxied_calls", "Calls through the proxy, by provider and HTTP status.", ["provider", "status"]
)
PROXY_OVERHEAD = Histogram(
    "spanlens_proxy_overhead_seconds",
    "Time the proxy adds to a call: total latency minus the time waiting on the provider.",
    ["provider"],
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)


# (provider, status) -> its counter and histogram children. labels() takes a lock and
# builds a key on every call; the children it returns are the same objects each time.
_children: dict[tuple[str, int], tuple] = {}


def observe_call(provider: str, status: int, overhead_ms: float) -> None:
    children = _children.get((provider, status))
    if children is None:
        children = _children[(provider, status)] = (
            PROXIED_CALLS.labels(provider, str(status)), PROXY_OVERHEAD.labels(provider))
    children[0].inc()
    children[1].observe(max(overhead_ms, 0) / 1000)

"""The metrics the anomaly detector watches and their names on pages.

Kept apart from detector.py so the models (imported by every process at Django
start-up) do not load numpy: a web process loads it with chDB anyway, but the log
builder and the workers would carry ~15 MB for nothing.
"""

METRICS = ("p95_latency_ms", "cost_usd", "error_rate", "requests")
LABELS = {"p95_latency_ms": "p95 latency", "cost_usd": "Cost per hour", "error_rate": "Error rate",
          "requests": "Request volume"}

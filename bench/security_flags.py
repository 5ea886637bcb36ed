"""Precision and recall of the security detectors on the labelled corpus, and their speed.

    python -m bench.security_flags
"""
from __future__ import annotations

import time

from proxy import security
from tests import security_corpus as corpus
from tests.security_worst_cases import WORST_BODIES

TARGET_S = 0.020  # per megabyte of the worst body a pattern can meet


def main() -> None:
    stats = corpus.measure(security.scan)
    print(corpus.table(stats))
    bodies = [body for body, _ in corpus.examples()]
    started = time.perf_counter()
    for _ in range(20):
        for body in bodies:
            security.scan(body)
    per_body = (time.perf_counter() - started) / (20 * len(bodies))
    print(f"\n{len(bodies)} bodies, {per_body * 1e6:.0f} µs per body on average")
    worst = []
    for name, body in WORST_BODIES:
        best = float("inf")
        for _ in range(5):
            started = time.thread_time()
            security.scan(body)
            best = min(best, time.thread_time() - started)
        worst.append((best * 1024 * 1024 / len(body), name))
    worst.sort(reverse=True)
    over = [w for w in worst if w[0] > TARGET_S]
    print(f"\nWorst cases: {len(worst)} bodies of 0.5-1 MB, best of 5, CPU time per MB (target {TARGET_S * 1e3:.0f} ms)")
    for seconds, name in worst[:5]:
        print(f"  {seconds * 1e3:6.1f} ms  {name}{'  over target' if seconds > TARGET_S else ''}")
    print(f"  {len(over)} of {len(worst)} over target")


if __name__ == "__main__":
    main()

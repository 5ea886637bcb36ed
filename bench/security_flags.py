"""Precision and recall of the security detectors on the labelled corpus, and their speed.

    python -m bench.security_flags
"""
from __future__ import annotations

import time

from proxy import security
from tests import security_corpus as corpus


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


if __name__ == "__main__":
    main()

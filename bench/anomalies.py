"""The anomaly detector on generated hourly series with known spikes (seconds, no database).

Each series is 8 days of history then one evaluated week, hour by hour, for one metric:
request volume (Poisson around a daily rhythm, a third of the series with a daily batch hour
at three times the traffic), p95 latency (log-normal noise), error rate
(binomial), cost per hour (volume times a noisy cost per call). Into each evaluated week go
2 spikes of 1-3 hours at random places (4x the volume, 2x the latency, +20 points of
error rate, 3x the cost per call) (also into the history: an old spike must not hide a
new one). The detector sees the same hourly values the beat task reads from the request log.

Prints detection rate and false alarms per day per metric, then one JSON line.
    python -m bench.anomalies [--series 40] [--seed 1]
"""
from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from dataclasses import dataclass, field

from spanlens.anomalies import detector

WEEK = 168
HISTORY = detector.SERIES_HOURS


@dataclass
class Series:
    metric: str
    values: list[float]              # index = hour from the start
    calls: list[float]
    spikes: list[tuple[int, int]] = field(default_factory=list)  # [start, end) hours, in the evaluated week


def _rhythm(hour: int, amplitude: float, batch_hour: int | None = None) -> float:
    # Busy in the (UTC) afternoon, quiet at night; some series also run a daily batch job
    # that triples the traffic of one hour: a peak that is not an anomaly.
    level = 1.0 + amplitude * math.sin(2 * math.pi * ((hour % 24) - 9) / 24)
    return level * (3.0 if batch_hour is not None and hour % 24 == batch_hour else 1.0)


def _poisson(rng: random.Random, lam: float) -> int:
    if lam > 50:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    threshold, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= threshold:
            return k
        k += 1


def generate(metric: str, rng: random.Random) -> Series:
    total = HISTORY + WEEK
    # Calls per hour; an error-rate spike needs some traffic to be told from bad luck.
    level = rng.choice([120, 600, 3000] if metric == "error_rate" else [40, 120, 600, 3000])
    amplitude = rng.choice([0.0, 0.3, 0.6])
    batch_hour = rng.choice([None, None, rng.randrange(24)])
    spike_hours: set[int] = set()
    spikes = []
    # Two spikes in the evaluated week, one in the history, never overlapping.
    for lo, hi, count in ((HISTORY, total - 3, 2), (24, HISTORY - 3, 1)):
        placed = 0
        while placed < count:
            start, length = rng.randrange(lo, hi), rng.randint(1, 3)
            span = set(range(start - 6, start + length + 6))
            if span & spike_hours:
                continue
            spike_hours |= set(range(start, start + length))
            if lo == HISTORY:
                spikes.append((start, start + length))
            placed += 1
    values, calls = [], []
    base_latency, base_error, cost_per_call = rng.choice([400, 1200, 3000]), rng.choice([0.005, 0.02]), 0.002
    for h in range(total):
        lam = level * _rhythm(h, amplitude, batch_hour)
        spiking = h in spike_hours
        if metric == "requests" and spiking:
            lam *= 4
        n = _poisson(rng, lam)
        calls.append(float(n))
        if metric == "requests":
            values.append(float(n))
        elif metric == "p95_latency_ms":
            p95 = base_latency * _rhythm(h, amplitude / 3) * math.exp(rng.gauss(0, 0.08))
            values.append(p95 * (2.0 if spiking else 1.0))
        elif metric == "error_rate":
            p = base_error + (0.2 if spiking else 0.0)
            if n < 2000:
                errors = sum(1 for _ in range(n) if rng.random() < p)
            else:
                errors = round(rng.gauss(n * p, math.sqrt(n * p * (1 - p))))
            values.append(errors / n if n else 0.0)
        else:
            per_call = cost_per_call * math.exp(rng.gauss(0, 0.1)) * (3.0 if spiking else 1.0)
            values.append(n * per_call)
    return Series(metric, values, calls, spikes)


def run_series(s: Series, threshold: float) -> tuple[int, int]:
    """(spikes found, false alarms) over the evaluated week, one evaluation per hour."""
    opened_at: list[int] = []
    flagged: set[int] = set()
    open_now = False
    for now in range(HISTORY, HISTORY + WEEK):
        series = {ago: s.values[now - ago] for ago in range(0, HISTORY) if now - ago >= 0}
        if s.metric in ("p95_latency_ms", "error_rate"):
            series = {a: v for a, v in series.items() if s.calls[now - a] >= 5}
        finding = detector.evaluate(series, s.metric, threshold=threshold, calls=s.calls[now],
                                    open_already=open_now)
        anomalous = finding is not None and finding.is_anomaly
        if anomalous and not open_now:
            opened_at.append(now)
        if anomalous:
            flagged.add(now)
        open_now = anomalous
    # A spike is found when the detector flags one of its hours (an anomaly opened just
    # before it and still open counts too); an opening outside every spike is a false alarm.
    found = sum(1 for start, end in s.spikes if any(start <= t < end for t in flagged))
    false = sum(1 for t in opened_at if not any(start <= t < end for start, end in s.spikes))
    return found, false


def run(series_per_metric: int = 40, seed: int = 1, threshold: float = 3.0) -> dict:
    rng = random.Random(seed)
    out = {}
    for metric in detector.METRICS:
        spikes = found = false = 0
        worst = 0
        for _ in range(series_per_metric):
            s = generate(metric, rng)
            f, fa = run_series(s, threshold)
            spikes += len(s.spikes)
            found += f
            false += fa
            worst = max(worst, fa)
        days = series_per_metric * WEEK / 24
        out[metric] = {"series": series_per_metric, "spikes": spikes, "found": found,
                       "detection_rate": found / spikes if spikes else 1.0, "false_alarms": false,
                       "false_alarms_per_day": false / days, "worst_series_week": worst}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=40, help="series per metric (each one evaluated week)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threshold", type=float, default=3.0)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    result = run(args.series, args.seed, args.threshold)
    print(f"Anomaly detection on generated series (threshold {args.threshold} sigma, seed {args.seed})")
    print(f"{'metric':<16} {'series':>6} {'spikes':>6} {'found':>6} {'detection':>9} {'false/day':>9} {'worst wk':>8}")
    for metric, r in result.items():
        print(f"{detector.LABELS[metric]:<16} {r['series']:>6} {r['spikes']:>6} {r['found']:>6} "
              f"{r['detection_rate']:>8.1%} {r['false_alarms_per_day']:>9.3f} {r['worst_series_week']:>8}")
    print(f"({time.perf_counter() - start:.1f} s)", file=sys.stderr)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Call sampling, decided per call before the request is sent.

A sampled-out call still goes through the proxy; its header tells the proxy not
to keep it (`drop`), or to keep it only if it fails (`errors`). A kept call carries
the rate, so totals of sampled traffic are scaled up to estimates of the whole.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Callable

SAMPLE_HEADER = "x-spanlens-sample"
# Sent with every kept call of a sampled client, so the dashboard counts each kept row
# as 1 / rate calls.
SAMPLE_RATE_HEADER = "x-spanlens-sample-rate"


@dataclass(frozen=True)
class Sampling:
    rate: float = 1.0
    always_log_errors: bool = True

    def __post_init__(self):
        if not 0.0 <= float(self.rate) <= 1.0:
            raise ValueError("sampling rate must be between 0 and 1")

    @classmethod
    def of(cls, value: Any) -> "Sampling | None":
        """Accepts None, a rate, a Sampling, or {"rate": 0.1, "always_log_errors": True}."""
        if value is None or isinstance(value, Sampling):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return cls(rate=float(value))
        if isinstance(value, dict):
            errors = value.get("always_log_errors", value.get("alwaysLogErrors", True))
            return cls(rate=float(value.get("rate", 1.0)), always_log_errors=bool(errors))
        raise TypeError("sampling must be a rate, a dict like {'rate': 0.1} or a Sampling")

    def decide(self, rng: Callable[[], float] = random.random) -> str | None:
        """The x-spanlens-sample value for one call: None (keep), 'errors' or 'drop'."""
        if self.rate >= 1.0 or rng() < self.rate:
            return None
        return "errors" if self.always_log_errors else "drop"

    def rate_header(self, decision: str | None) -> str | None:
        """The x-spanlens-sample-rate value for one call: the rate when a sampled client keeps it."""
        if decision is None and float(self.rate) < 1.0:
            return repr(float(self.rate))
        return None

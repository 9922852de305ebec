"""When to try again after a transient failure: exponential, capped, with jitter.

Jitter spreads retries of many alerts (and many workers) after an SMTP outage so the
relay is not hit by all of them in the same second; it is injectable so tests are exact.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta

Jitter = Callable[[], float]  # returns a number in [0, 1)


def backoff_delay(
    attempts: int, base_seconds: float, max_seconds: float, jitter: Jitter = random.random
) -> timedelta:
    """``base · 2^(attempts-1)``, capped at ``max_seconds``, then scaled into [½, 1] of it
    ("equal jitter"), so the delay never shrinks below half the exponential step."""
    step = min(max_seconds, base_seconds * 2 ** max(0, attempts - 1))
    return timedelta(seconds=step / 2 + step / 2 * jitter())

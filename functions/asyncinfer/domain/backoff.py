"""When a transiently failed task comes back: exponential backoff with full jitter, capped."""

from __future__ import annotations

import random


def retry_delay(receive_count: int, *, base: float, cap: float, rng: random.Random | None = None) -> int:
    """Seconds before the message is visible again after its `receive_count`-th delivery failed:
    uniformly in [1, min(cap, base * 2^(n-1))], so a burst of failures spreads out instead of
    coming back together (AWS's "full jitter")."""
    ceiling = min(cap, base * 2 ** max(receive_count - 1, 0))
    return max(1, round((rng or random).uniform(0, ceiling)))

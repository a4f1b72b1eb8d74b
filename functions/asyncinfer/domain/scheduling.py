"""Which lane a task waits in, and where it stands there: its class from the request (OpenAI's and
Bedrock's `service_tier`, PrivateGPT's `priority`), its place in line, and when it should start."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from asyncinfer.domain.errors import InvalidRequest
from asyncinfer.domain.model import ServiceTier, Task

# OpenAI's names (`auto` and `scale` included, as its SDK sends them) and Bedrock's: three classes here.
TIER_NAMES: dict[str, ServiceTier] = {
    "auto": ServiceTier.DEFAULT,
    "default": ServiceTier.DEFAULT,
    "standard": ServiceTier.DEFAULT,
    "flex": ServiceTier.FLEX,
    "priority": ServiceTier.PRIORITY,
    "scale": ServiceTier.PRIORITY,
}
# A batch's items wait in a lane of their own (the batch-items queue), whatever their class.
BATCH_LANE = "batch"


def parse_tier(body: dict[str, Any]) -> ServiceTier:
    """`service_tier` (a name), else PrivateGPT's integer `priority`: above 0 is the priority class,
    below 0 flex, 0 or none the default."""
    named = body.get("service_tier")
    if named is not None:
        if not isinstance(named, str) or named not in TIER_NAMES:
            raise InvalidRequest(f"service_tier must be one of: {', '.join(TIER_NAMES)}")
        return TIER_NAMES[named]
    level = body.get("priority")
    if level is None:
        return ServiceTier.DEFAULT
    if not isinstance(level, int) or isinstance(level, bool):
        raise InvalidRequest("priority must be an integer (above 0: the priority class, below 0: flex)")
    if level > 0:
        return ServiceTier.PRIORITY
    return ServiceTier.FLEX if level < 0 else ServiceTier.DEFAULT


def lane_of(task: Task) -> str:
    return BATCH_LANE if task.batch_id is not None else task.service_tier.value


@dataclass(frozen=True)
class Standing:
    """A queued task's place in its lane: how many tasks of the lane will start before it, and when it
    should start at the lane's recent rate (None while the lane has started nothing lately)."""

    queue_position: int
    estimated_start_at: int | None  # epoch ms


def estimate_start(now_ms: int, position: int, starts: list[tuple[int, int]], bucket_ms: int) -> int | None:
    """`starts`: the lane's recent starts, (bucket's first ms, count) in time order. The lane starts tasks
    at the rate it kept since its first recent start (its busy span, not the whole window: a lane that
    just got busy is not averaged with the quiet before it); the task at `position` (0: next) starts
    after position + 1 more of them."""
    total = sum(count for _, count in starts)
    if total <= 0:
        return now_ms if position == 0 else None
    span = max(now_ms - starts[0][0], bucket_ms)
    return now_ms + (position + 1) * span // total

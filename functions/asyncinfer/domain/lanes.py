"""Which lane a task waits in, and where it stands there: its class from the request (OpenAI's and
Bedrock's `service_tier`, PrivateGPT's `priority`), its place in line, when it should start, and once it
runs, when it should finish."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from asyncinfer.domain.errors import InvalidRequest
from asyncinfer.domain.model import ServiceTier, Task, TaskStatus

# OpenAI's names (`auto` and `scale` included, as its SDK sends them) and Bedrock's: three classes here.
TIER_NAMES: dict[str, ServiceTier] = {
    "auto": ServiceTier.DEFAULT,
    "default": ServiceTier.DEFAULT,
    "standard": ServiceTier.DEFAULT,
    "flex": ServiceTier.FLEX,
    "priority": ServiceTier.PRIORITY,
    "scale": ServiceTier.PRIORITY,
}
BATCH_LANE = "batch"  # A batch's items wait in a lane of their own (the batch-items queue), whatever their class.


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


# A `complete_by` batch's items that run in a class (asyncinfer.domain.escalation) wait in that class's lane.
TIER_PATHS = frozenset(tier.value for tier in ServiceTier)


def lane_of(task: Task) -> str:
    if task.batch_id is not None and task.path not in TIER_PATHS:
        return BATCH_LANE
    return task.service_tier.value


@dataclass(frozen=True)
class Standing:
    """A queued task's place in its lane: how many tasks of the lane will start before it, and when it
    should start at the lane's recent rate (None while the lane has started nothing lately)."""

    queue_position: int
    estimated_start_at: int | None  # epoch ms
    # Other tenants' tasks wait ahead of it: the order among tenants is the fair queue's, not known here.
    estimated: bool = False


def estimate_start(now_ms: int, position: int, starts: list[tuple[int, int]], bucket_ms: int) -> int | None:
    """`starts`: the lane's recent starts, (bucket's first ms, count) in time order. The lane starts tasks at the rate
    it kept since its first recent start (its busy span, not the whole window: a lane that just got busy is not averaged
    with the quiet before it); the task at `position` (0: next) starts after position + 1 more of them."""
    total = sum(count for _, count in starts)
    if total <= 0:
        return now_ms if position == 0 else None
    return now_ms + (position + 1) * max(now_ms - starts[0][0], bucket_ms) // total


def estimate_finish(task: Task, now_ms: int) -> int | None:
    """A running task's end at the pace it kept since it started: started + elapsed / (the part done), the part done
    being its progress's percent (above 0), else step / steps (steps known, step at least 1). An upstream job that tells
    no part done but its model's usual time (`estimated_seconds`): started + that time, while it is still ahead (past
    it, the job is late and its end unknown). None when its progress cannot tell (no progress, the step count unknown,
    nothing done yet) or the task is not running. Never before now while the part done is below all of it."""
    progress = task.progress
    if task.status != TaskStatus.IN_PROGRESS or task.started_at is None or progress is None:
        return None
    elapsed = max(now_ms - task.started_at, 0)
    if progress.percent is not None and progress.percent > 0:
        return task.started_at + round(elapsed * 100 / min(progress.percent, 100.0))
    if progress.steps and progress.step:
        return task.started_at + elapsed * progress.steps // min(progress.step, progress.steps)
    if progress.percent is None and progress.estimated_seconds is not None:
        usual = task.started_at + progress.estimated_seconds * 1000
        return usual if usual > now_ms else None
    return None

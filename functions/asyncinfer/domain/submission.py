"""What a submit is before it becomes a task: who sent it and how, the validated request, what makes two
submits the same (for an idempotency key), and the limits a submit is held to."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from asyncinfer.domain.catalog import LOCAL, ModelRegistry, ModelSpec
from asyncinfer.domain.deadlines import Deadlines
from asyncinfer.domain.errors import InvalidRequest, LocalOnlyModel, LongTasksUnavailable
from asyncinfer.domain.model import TaskKind

IDEMPOTENCY = "idem"
MESSAGE_ID = "msg"
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")  # printable ASCII, no spaces


class InvalidIdempotencyKey(InvalidRequest):
    code = "invalid_idempotency_key"


def check_idempotency_key(key: str | None) -> str | None:
    if key is not None and not _KEY.match(key):
        raise InvalidIdempotencyKey("An idempotency key is 1 to 255 printable ASCII characters without spaces")
    return key


def fingerprint(surface: str, body: dict[str, Any], name: str | None = None) -> str:
    """What makes two submits "the same request" for an idempotency key: surface, body and name."""
    canonical = json.dumps({"surface": surface, "body": body, "name": name}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


# What a task record may hold besides its request (which is inline up to 64 KiB, or in S3).
MAX_TASK_FIELDS_BYTES = 16 * 1024


@dataclass(frozen=True)
class Submission:
    """Who submits what: the surface it came through, the idempotency key and client-chosen id if any, and
    the deadlines its headers ask for."""

    surface: str = "async"
    idempotency_key: str | None = None
    message_id: str | None = None
    # From the request's headers (fal's X-Fal-Request-Timeout, Replicate's Cancel-After); the body's win.
    deadlines: Deadlines = field(default_factory=Deadlines)


@dataclass(frozen=True)
class Prepared:
    """A validated request: what its task will be, and what makes two submits of it the same."""

    kind: TaskKind
    model: str
    request: dict[str, Any]
    fingerprint: str
    fields: dict[str, Any]


@dataclass(frozen=True)
class SubmitLimits:
    max_request_bytes: int
    inline_request_bytes: int
    retention_days: int
    download_url_seconds: int = 3600
    # Per tenant: at most this many new tasks per window (0: no limit).
    submits_per_window: int = 0
    window_seconds: int = 60
    max_inflight: int = 0  # Per tenant: at most this many tasks not yet ended (0: no limit).
    # Per tenant: at most this many submits waiting for their task at once (`Prefer: wait`; 0: no limit).
    max_waits: int = 0
    inflight_retry_seconds: int = 5
    long_tasks: bool = True  # Whether this deployment has the long-task runner (models with `"runs": "durable"`).
    # Whether the local stack's stand-ins for upstream job services run here (make dev, not a deployment).
    local_jobs: bool = True


def check_servable(model: str, spec: ModelSpec, registry: ModelRegistry, limits: SubmitLimits) -> None:
    """Refuse at submit what this deployment cannot run, rather than fail the task later."""
    if registry.runner_only(spec) and not limits.long_tasks:
        raise LongTasksUnavailable(
            f"{model} runs as a long task, and this deployment has no long-task runner "
            "(Lambda durable functions are not available in its Region)"
        )
    if spec.provider == LOCAL and registry.upstream_job(spec) and not limits.local_jobs:
        raise LocalOnlyModel(
            f"{model} exists only in the local stack (make dev): its jobs go to an offline stand-in for "
            f"{spec.upstream}'s upstream API that a deployment does not run. Add a model served by Bedrock or an "
            "OpenAI-compatible provider to the registry instead"
        )

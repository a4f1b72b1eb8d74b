"""The JSON shapes of the API's answers, as OpenAPI schemas: the routes declare them (asyncinfer.surfaces.contract),
and they appear in the document Powertools generates."""

from __future__ import annotations

from typing import Any

from asyncinfer.domain.records import BATCH_EVENTS

ERROR = {"$ref": "#/components/schemas/Error"}
STAMP = {"type": "string", "format": "date-time"}
NULLABLE_INT = {"type": ["integer", "null"]}


def obj(**properties: Any) -> dict[str, Any]:
    return {"type": "object", "properties": properties}


def scheduled(shape: dict[str, Any], stamp: dict[str, Any]) -> dict[str, Any]:
    """A read's shape with what every surface adds about when the task runs (times in `stamp`'s type)."""
    return {
        **shape,
        "properties": {
            **shape["properties"],
            "service_tier": {"type": "string", "enum": ["priority", "default", "flex"]},
            "queue_position": {
                "type": "integer",
                "description": "While not yet started: how many tasks (of every tenant) wait before it in its class. "
                "Exact while only its tenant's own tasks are ahead (they start in the order they came)",
            },
            "queue_position_estimated": {
                "type": "boolean",
                "description": "Present (true) while other tenants' tasks wait ahead of it: each class is a fair "
                "queue, which starts a quieter tenant's tasks before a busier one's, so the position is an estimate",
            },
            "progress": obj(
                step={
                    "type": "integer",
                    "description": "Steps done (a tool loop's steps of tool calls); absent for an upstream job",
                },
                steps={"type": "integer", "description": "How many there will be, when that is known"},
                percent={"type": "number", "description": "The part done, when it can be told (an upstream job's own)"},
                message={"type": "string"},
                elapsed_seconds={
                    "type": "integer",
                    "description": "An upstream job that reports no percent (a Nova Reel video): how long it had "
                    "run at its last poll (polls are seconds apart)",
                },
                estimated_seconds={
                    "type": "integer",
                    "description": "With elapsed_seconds, when the model's registry gives it: how long its jobs "
                    "usually take. A job past it is late; it is never reported done before it is",
                },
            ),
            "estimated_start_at": {
                **stamp,
                "description": "While not yet started: when it should start, from its class's starts over the "
                "last minute (null while the class started nothing lately)",
            },
            "estimated_finish_at": {
                **stamp,
                "description": "While running, when its progress tells how far it is (a percent, or steps done of "
                "a known number of steps): when it should finish at the pace it kept since it started. An upstream "
                "job with only estimated_seconds: its start plus that, until that time has passed",
            },
            "start_deadline_at": {
                **stamp,
                "description": "While not yet started, with a start deadline (start_timeout, X-Fal-Request-Timeout "
                "or Cancel-After): not started by then, it ends FAILED `start_timeout` and never runs",
            },
            "deadline_at": {
                **stamp,
                "description": "With an end deadline (Cancel-After, or execution_timeout from its start): still "
                "running then, it is stopped and ends FAILED `deadline_exceeded`",
            },
            "execution_timeout": {
                "type": "number",
                "description": "While not yet started: the execution timeout asked for (seconds from its start)",
            },
        },
    }


TASK = obj(
    id={"type": "string", "example": "task_0190a5d2-7b3c-7d4e-8f00-1a2b3c4d5e6f"},
    status={"type": "string", "enum": ["CREATED", "IN_PROGRESS", "COMPLETED", "FAILED", "CANCELLED"]},
    created_at=STAMP,
    started_at=STAMP,
    completed_at=STAMP,
    failed_at=STAMP,
    cancelled_at=STAMP,
)
PPLX = obj(
    id={"type": "string", "format": "uuid"},
    model={"type": "string"},
    status={"type": "string", "enum": ["CREATED", "IN_PROGRESS", "COMPLETED", "FAILED"]},
    created_at={"type": "integer"},
    started_at=NULLABLE_INT,
    completed_at=NULLABLE_INT,
    failed_at=NULLABLE_INT,
    response={"type": ["object", "null"], "description": "The chat completion, with usage and cost"},
    error_message={"type": ["string", "null"]},
)
PGPT_STATUS = obj(
    message_id={"type": "string"},
    status={"type": "string", "enum": ["pending", "processing", "completed", "failed", "cancelled", "error"]},
    created_at=STAMP,
    updated_at=STAMP,
    completed_at={"type": ["string", "null"], "format": "date-time"},
    error_message={"type": ["string", "null"]},
    stream_type={"type": "string", "enum": ["sse"]},
    metadata={"type": "object"},
)
GENERATION = obj(
    id={"type": "string", "pattern": "^[0-9a-f]{32}$"},
    user_id={"type": "string"},
    status={"type": "string", "enum": ["pending", "processing", "completed", "failed", "cancelled"]},
    created_at={"type": "string", "example": "2025-09-18 09:14:20"},
    updated_at={"type": "string"},
    deleted_at={"type": ["string", "null"]},
    is_deleted={"type": "boolean"},
    result=obj(
        data={
            "type": "array",
            "items": obj(
                url={"type": "string", "format": "uri"},
                file_id={"type": "string"},
                file_name={"type": "string"},
                file_type={"type": "string", "enum": ["image", "audio", "video"]},
            ),
        }
    ),
)
COUNTS = obj(**{name: {"type": "integer"} for name in ("total", "completed", "failed", "cancelled", "pending")})
NULLABLE_STR = {"type": ["string", "null"]}
BATCH = obj(
    id={"type": "string", "example": "batch_0190a5d2-7b3c-7d4e-8f00-1a2b3c4d5e6f"},
    object={"type": "string", "enum": ["batch"]},
    endpoint={"type": "string", "enum": ["/v1/async", "/v1/generation", "/v1/chat/completions"]},
    errors={"type": "null"},
    input_file_id=NULLABLE_STR,
    completion_window=NULLABLE_STR,
    status={"type": "string", "enum": ["in_progress", "cancelling", "completed", "cancelled"]},
    output_file_id={**NULLABLE_STR, "description": "Once ended (endpoint /v1/chat/completions): OpenAI's output file"},
    error_file_id={**NULLABLE_STR, "description": "Once ended with failed or cancelled items: OpenAI's error file"},
    created_at={"type": "integer", "description": "Unix seconds, as every time of a batch"},
    in_progress_at=NULLABLE_INT,
    expires_at={**NULLABLE_INT, "description": "When the batch record and its files are deleted"},
    finalizing_at=NULLABLE_INT,
    completed_at=NULLABLE_INT,
    failed_at=NULLABLE_INT,
    expired_at=NULLABLE_INT,
    cancelling_at=NULLABLE_INT,
    cancelled_at=NULLABLE_INT,
    ended_at=NULLABLE_INT,
    request_counts=COUNTS,
    progress={
        **obj(
            step={"type": "integer", "description": "Items ended (completed, failed or cancelled)"},
            steps={"type": "integer", "description": "Items in the batch"},
            percent={"type": "number", "description": "The part ended, in percent to one decimal"},
        ),
        "description": "How far the batch is (not in OpenAI's Batch object; its SDK keeps it as an extra field)",
    },
    metadata={"type": "object", "additionalProperties": {"type": "string"}},
    schedule={"type": "string", "description": "The schedule that submitted it"},
    webhook=obj(url={"type": "string"}, events={"type": "array", "items": {"type": "string"}}),
    results_url={
        "type": "string",
        "format": "uri",
        "description": "Once ended: the results JSONL, one line per custom_id (a fresh presigned URL on every read)",
    },
)
FILE = obj(
    id={"type": "string", "example": "file-0190a5d27b3c7d4e8f001a2b3c4d5e6f"},
    object={"type": "string", "enum": ["file"]},
    bytes={"type": "integer"},
    created_at={"type": "integer"},
    expires_at=NULLABLE_INT,
    filename={"type": "string"},
    purpose={"type": "string", "enum": ["batch", "batch_output"]},
    status={"type": "string", "enum": ["processed"]},
)
MODEL = obj(
    id={"type": "string"},
    object={"type": "string", "enum": ["model"]},
    created={"type": "integer"},
    owned_by={"type": "string"},
    kind={"type": "string", "enum": ["chat", "image", "audio", "video"]},
)
ATTEMPT = obj(at=STAMP, duration_ms={"type": "integer"}, status_code={"type": "integer"}, error={"type": "string"})
DELIVERY = obj(
    id={"type": "string", "description": "The webhook-id header of every attempt"},
    object={"type": "string", "enum": ["webhook.delivery"]},
    event_type={"type": "string", "enum": ["task.completed", "task.failed", "task.cancelled", *BATCH_EVENTS]},
    subject={"type": "string", "description": "The task or batch the event is about"},
    url={"type": "string"},
    status={"type": "string", "enum": ["pending", "delivered", "failed"]},
    attempt_count={"type": "integer"},
    created_at=STAMP,
    delivered_at=STAMP,
    failed_at=STAMP,
    attempts={"type": "array", "items": ATTEMPT},
    payload={"type": "string", "description": "The exact body sent (on GET of one delivery)"},
)
SECRET = obj(
    secret={"type": "string", "pattern": "^whsec_"},
    previous_secret_expires_at={
        **STAMP,
        "type": ["string", "null"],
        "description": "After a rotation: until when deliveries are also signed with the previous secret",
    },
)


# One event of the stream (OpenAPI 3.1 tools read `schema` as the per-event schema, 3.2's itemSchema).
SSE = {
    "text/event-stream": {
        "schema": {
            "type": "object",
            "required": ["data"],
            "properties": {
                "data": {"type": "string", "contentMediaType": "application/json"},
                "event": {"type": "string", "description": "absent on the OpenAI-chunk streams (`message`)"},
                "id": {"type": "string", "pattern": "^[0-9]+$", "description": "the event's sequence number"},
                "retry": {"type": "integer"},
            },
        }
    }
}

"""The OpenAPI 3.1 document of every route in asyncinfer.routes, and the Swagger UI page that shows it.

Request bodies come from the same pydantic models that validate them; every route of the route
table must have an operation here (a test holds both to that)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from pydantic import BaseModel

from asyncinfer.api.shapes import (
    BATCH,
    CURSOR,
    DELIVERY,
    DELIVERY_ID,
    ERROR,
    GENERATION,
    ID,
    IDEMPOTENCY_KEY,
    LAST_EVENT_ID,
    LIMIT,
    PGPT_STATUS,
    PPLX,
    SECRET,
    SSE,
    TASK,
    obj,
)
from asyncinfer.domain.batches import BatchRequest
from asyncinfer.domain.requests import AudioConfig, ChatRequest, GenerationRequest, ImageConfig
from asyncinfer.routes import ROUTES
from asyncinfer.tasks.dialects.perplexity import SubmitBody
from asyncinfer.tasks.dialects.privategpt import MessagesRequest

VERSION = "0.1.0"


@dataclass(frozen=True)
class Op:
    summary: str
    tag: str
    body: type[BaseModel] | None = None
    response: dict[str, Any] | None = None
    params: list[dict[str, Any]] = field(default_factory=list)
    streams: bool = False
    description: str = ""


OPERATIONS: dict[tuple[str, str], Op] = {
    ("POST", "/v1/async"): Op("Submit a chat completion", "Async API", ChatRequest, TASK, [IDEMPOTENCY_KEY]),
    ("GET", "/v1/async"): Op(
        "List tasks, newest first",
        "Async API",
        response=obj(tasks={"type": "array", "items": TASK}, has_more={"type": "boolean"}, next_cursor={}),
        params=[
            LIMIT,
            {"name": "cursor", "in": "query", "schema": {"type": "string"}},
            {"name": "status", "in": "query", "schema": TASK["properties"]["status"]},
        ],
    ),
    ("GET", "/v1/async/{id}"): Op("Get a task (with the completion once COMPLETED)", "Async API", response=TASK),
    ("POST", "/v1/async/{id}/cancel"): Op("Cancel a task", "Async API", response=TASK),
    ("DELETE", "/v1/async/{id}"): Op(
        "Delete a task (soft: cancels, hides, purges its files)",
        "Async API",
        response=obj(id={"type": "string"}, deleted={"type": "boolean"}),
    ),
    ("GET", "/v1/async/{id}/events"): Op(
        "Stream a task's events (Server-Sent Events, resumable)",
        "Async API",
        params=[LAST_EVENT_ID],
        streams=True,
        description="`id:` is the event's sequence number; `event: end` carries the task when it has ended.",
    ),
    ("POST", "/async/chat/completions"): Op(
        "Submit an async chat completion", "Perplexity", SubmitBody, PPLX, [IDEMPOTENCY_KEY]
    ),
    ("GET", "/async/chat/completions"): Op(
        "List async chat completions",
        "Perplexity",
        response=obj(requests={"type": "array", "items": PPLX}, next_token={"type": ["string", "null"]}),
        params=[LIMIT, {"name": "next_token", "in": "query", "schema": {"type": "string"}}],
    ),
    ("GET", "/async/chat/completions/{id}"): Op("Get an async chat completion", "Perplexity", response=PPLX),
    ("POST", "/v1/messages/async"): Op(
        "Initiate an async message",
        "PrivateGPT",
        MessagesRequest,
        obj(message_id={"type": "string"}, status={"type": "string"}, message={"type": "string"}),
        [
            {"name": "message_id", "in": "query", "required": False, "schema": {"type": "string", "maxLength": 128}},
            IDEMPOTENCY_KEY,
        ],
    ),
    ("GET", "/v1/messages/async/{id}/stream"): Op(
        "Stream the message as chat-completion chunks (Server-Sent Events, resumable)",
        "PrivateGPT",
        params=[LAST_EVENT_ID],
        streams=True,
    ),
    ("GET", "/v1/messages/async/{id}/status"): Op("Get a message's status", "PrivateGPT", response=PGPT_STATUS),
    ("POST", "/v1/messages/async/{id}/cancel"): Op("Cancel a message", "PrivateGPT", response=PGPT_STATUS),
    ("DELETE", "/v1/messages/async/{id}"): Op(
        "Delete a message",
        "PrivateGPT",
        response=obj(message_id={"type": "string"}, deleted={"type": "boolean"}),
    ),
    ("POST", "/v1/generation"): Op(
        "Create a generation (image or audio)",
        "NetMind",
        GenerationRequest,
        GENERATION,
        [IDEMPOTENCY_KEY],
        description="`config` is an ImageConfig or an AudioConfig (see the schemas), by the model's kind.",
    ),
    ("GET", "/v1/generation"): Op(
        "List generations",
        "NetMind",
        response=obj(generation_list={"type": "array", "items": GENERATION}, next_token={"type": "string"}),
        params=[LIMIT, {"name": "next_token", "in": "query", "schema": {"type": "string"}}],
    ),
    ("GET", "/v1/generation/{id}"): Op("Get a generation, with fresh download URLs", "NetMind", response=GENERATION),
    ("DELETE", "/v1/generation/{id}"): Op(
        "Delete a generation (soft; its files are deleted)",
        "NetMind",
        response=obj(message={"type": "string", "example": "Generation deleted"}),
    ),
    ("POST", "/v1/batches"): Op(
        "Submit a batch (one task per request)",
        "Batches",
        BatchRequest,
        BATCH,
        [IDEMPOTENCY_KEY],
        description="Inline `requests`, or an `input_file` (s3:// JSONL of `{custom_id, body}`). Every body is checked "
        "as its own submit would be; duplicate custom_ids are refused (400 duplicate_custom_id).",
    ),
    ("GET", "/v1/batches"): Op(
        "List batches, newest first",
        "Batches",
        response=obj(data={"type": "array", "items": BATCH}, has_more={"type": "boolean"}, next_cursor={}),
        params=[LIMIT, CURSOR],
    ),
    ("POST", "/v1/batches/uploads"): Op(
        "Get a presigned POST (URL and form fields) for a batch input file of at most max_bytes",
        "Batches",
        response=obj(
            input_file={"type": "string"},
            upload_url={"type": "string", "format": "uri"},
            method={"type": "string"},
            fields={"type": "object", "additionalProperties": {"type": "string"}},
            max_bytes={"type": "integer"},
            expires_in={"type": "integer"},
        ),
    ),
    ("GET", "/v1/batches/{id}"): Op("Get a batch: status, counts, results URL", "Batches", response=BATCH),
    ("POST", "/v1/batches/{id}/cancel"): Op("Cancel a batch (its unfinished items)", "Batches", response=BATCH),
    ("GET", "/v1/webhooks/secret"): Op(
        "The tenant's webhook signing secret (Standard Webhooks)", "Webhooks", response=SECRET
    ),
    ("POST", "/v1/webhooks/secret/rotate"): Op("Replace the signing secret", "Webhooks", response=SECRET),
    ("GET", "/v1/webhooks/deliveries"): Op(
        "List webhook deliveries, newest first",
        "Webhooks",
        response=obj(data={"type": "array", "items": DELIVERY}, has_more={"type": "boolean"}, next_cursor={}),
        params=[
            LIMIT,
            CURSOR,
            {"name": "task_id", "in": "query", "schema": {"type": "string"}},
            {"name": "batch_id", "in": "query", "schema": {"type": "string"}},
        ],
    ),
    ("GET", "/v1/webhooks/deliveries/{id}"): Op(
        "Get a delivery, with its attempts and payload", "Webhooks", response=DELIVERY
    ),
    ("POST", "/v1/webhooks/deliveries/{id}/redeliver"): Op(
        "Deliver the event again (a new round of attempts)", "Webhooks", response=DELIVERY
    ),
    ("GET", "/openapi.json"): Op("This document", "Docs", response={"type": "object"}),
    ("GET", "/docs"): Op("Swagger UI for this document", "Docs"),
}


def _operation(method: str, path: str, authorized: bool) -> dict[str, Any]:
    op = OPERATIONS[(method, path)]
    out: dict[str, Any] = {
        "summary": op.summary,
        "tags": [op.tag],
        "operationId": (method.lower() + path.replace("/", "_").replace("{", "").replace("}", "")).replace(".", "_"),
    }
    if op.description:
        out["description"] = op.description
    path_id = DELIVERY_ID if path.startswith("/v1/webhooks/deliveries/") else ID
    params = ([path_id] if "{id}" in path else []) + op.params
    if params:
        out["parameters"] = params
    if op.body is not None:
        out["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{op.body.__name__}"}}},
        }
    if op.streams:
        ok: dict[str, Any] = {"description": "Server-Sent Events until the task ends", "content": SSE}
    elif path == "/docs":
        ok = {"description": "HTML", "content": {"text/html": {"schema": {"type": "string"}}}}
    else:
        ok = {"description": "OK", "content": {"application/json": {"schema": op.response or {"type": "object"}}}}
    error = {"description": "Error", "content": {"application/json": {"schema": ERROR}}}
    out["responses"] = {"200": ok, "400": error, "404": error}
    if authorized:
        out["responses"]["401"] = error
    else:
        out["security"] = []
    if method == "POST":
        out["responses"]["409"] = error
    if op.body is not None or op.streams:
        out["responses"]["429"] = {
            "description": "Over the tenant's stream cap" if op.streams else "Over the tenant's submit quota",
            "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait"}},
            "content": {"application/json": {"schema": ERROR}},
        }
    return out


@cache
def document() -> dict[str, Any]:
    schemas: dict[str, Any] = {
        "Error": obj(
            error={**obj(code={"type": "string"}, message={"type": "string"}), "required": ["code", "message"]}
        )
    }
    for model in (ChatRequest, SubmitBody, MessagesRequest, GenerationRequest, ImageConfig, AudioConfig, BatchRequest):
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, definition in schema.pop("$defs", {}).items():
            schemas[name] = definition
        schemas[model.__name__] = schema
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route.method, route.path, route.authorized)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "asyncinfer",
            "version": VERSION,
            "description": "Disconnect-safe asynchronous inference: four providers' async API shapes over one task "
            "engine (Async API, PrivateGPT, Perplexity, NetMind), plus batches and signed webhooks.",
        },
        "servers": [{"url": "."}],
        "security": [{"apiKey": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer", "description": "An asyncinfer API key"}},
        },
    }


@cache
def swagger_page() -> str:
    """Swagger UI with its script and styles inlined (from Powertools' bundled copy): no CDN needed."""
    from aws_lambda_powertools.event_handler.openapi.swagger_ui import generate_swagger_html

    assets = resources.files("aws_lambda_powertools.event_handler.openapi.swagger_ui")
    js = assets.joinpath("swagger-ui-bundle.min.js").read_text()
    css = assets.joinpath("swagger-ui.min.css").read_text()
    return generate_swagger_html(json.dumps(document()), js, css, "", None, persist_authorization=True)

"""Webhooks: the tenant's signing secret, and every delivery with its attempts.

GET /v1/webhooks/secret, POST /v1/webhooks/secret/rotate, GET /v1/webhooks/deliveries,
GET /v1/webhooks/deliveries/{id}, POST /v1/webhooks/deliveries/{id}/redeliver."""

from __future__ import annotations

import re

from asyncinfer import wiring
from asyncinfer.config import WebhookApiSettings
from asyncinfer.domain.errors import InvalidRequest, TaskNotFound
from asyncinfer.domain.requests import parse_limit
from asyncinfer.handlers.shared import entry_point
from asyncinfer.http import build_resolver, tenant_of
from asyncinfer.tasks.dialects import async_api
from asyncinfer.tasks.dialects import batches as view
from asyncinfer.tasks.webhooks import DeliveryNotFound, Webhooks

app = build_resolver()

SETTINGS = WebhookApiSettings  # the infra tests check each deployed environment against it
_DELIVERY_ID = re.compile(r"^msg_[0-9a-f]{32}_[a-z_]{1,40}$")


@wiring.cached
def webhooks() -> Webhooks:
    return wiring.webhooks(SETTINGS())


def _delivery_id(value: str) -> str:
    if not _DELIVERY_ID.match(value):
        raise DeliveryNotFound()
    return value


@app.get("/v1/webhooks/secret")
def get_secret() -> dict:
    return {"secret": webhooks().secret(tenant_of(app))}


@app.post("/v1/webhooks/secret/rotate")
def rotate_secret() -> dict:
    return {"secret": webhooks().rotate_secret(tenant_of(app))}


@app.get("/v1/webhooks/deliveries")
def list_deliveries() -> dict:
    params = app.current_event.query_string_parameters or {}
    limit = parse_limit(params)
    subject = None
    try:
        if params.get("task_id"):
            subject = async_api.internal_id(params["task_id"])
        elif params.get("batch_id"):
            subject = view.internal_id(params["batch_id"])
    except TaskNotFound:
        raise InvalidRequest("task_id or batch_id is not an id of this API") from None
    cursor = params.get("cursor") or None
    if cursor is not None and not _DELIVERY_ID.match(cursor):
        raise InvalidRequest("cursor is not a value returned as next_cursor")
    found, last = webhooks().list(tenant_of(app), limit=limit, after=cursor, subject=subject)
    return {"data": [view.delivery(d) for d in found], "has_more": last is not None, "next_cursor": last}


@app.get("/v1/webhooks/deliveries/<delivery_id>")
def get_delivery(delivery_id: str) -> dict:
    delivery = webhooks().get(tenant_of(app), _delivery_id(delivery_id))
    return view.delivery(delivery, with_payload=True)


@app.post("/v1/webhooks/deliveries/<delivery_id>/redeliver")
def redeliver(delivery_id: str) -> dict:
    return view.delivery(webhooks().redeliver(tenant_of(app), _delivery_id(delivery_id)))


lambda_handler = entry_point(app)

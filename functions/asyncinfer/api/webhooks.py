"""Webhooks: the tenant's signing secret, and every delivery with its attempts.

GET /v1/webhooks/secret, POST /v1/webhooks/secret/rotate, GET /v1/webhooks/deliveries,
GET /v1/webhooks/deliveries/{id}, POST /v1/webhooks/deliveries/{id}/redeliver."""

from __future__ import annotations

import re
from typing import Annotated

from aws_lambda_powertools.event_handler import Depends
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from asyncinfer.api.contract import Cursor, DeliveryId, Limit, present, route
from asyncinfer.api.shapes import DELIVERY, SECRET, obj
from asyncinfer.domain import ids
from asyncinfer.domain.errors import InvalidRequest, TaskNotFound
from asyncinfer.http import tenant_of
from asyncinfer.store.base import WebhookSecrets
from asyncinfer.tasks.dialects import async_api
from asyncinfer.tasks.dialects import batches as view
from asyncinfer.tasks.webhooks import DeliveryNotFound, Webhooks

router = Router()
TAG = "Webhooks"
_DELIVERY_ID = re.compile(r"^msg_[0-9a-f]{32}_[a-z_]{1,40}$")


def webhooks() -> Webhooks:
    raise NotImplementedError("this function provides no webhooks")


WebhooksService = Annotated[Webhooks, Depends(webhooks)]


def _delivery_id(value: str) -> str:
    if not _DELIVERY_ID.match(value):
        raise DeliveryNotFound()
    return value


def _secret(svc: Webhooks, secrets: WebhookSecrets) -> dict:
    """The current secret; the previous one is never shown again, only until when it still signs."""
    grace = secrets.previous_expires_at if secrets.in_grace(svc.clock()) else None
    return {"secret": secrets.current, "previous_secret_expires_at": async_api.iso(grace) if grace else None}


@route(router, "GET", "/v1/webhooks/secret", "The tenant's webhook signing secret (Standard Webhooks)", TAG, ok=SECRET)
def get_secret(svc: WebhooksService) -> dict:
    return _secret(svc, svc.secret(tenant_of(router)))


@route(
    router,
    "POST",
    "/v1/webhooks/secret/rotate",
    "Replace the signing secret; the previous one still signs deliveries for a grace period",
    TAG,
    ok=SECRET,
)
def rotate_secret(svc: WebhooksService) -> dict:
    return _secret(svc, svc.rotate_secret(tenant_of(router)))


@route(
    router,
    "GET",
    "/v1/webhooks/deliveries",
    "List webhook deliveries, newest first",
    TAG,
    ok=obj(data={"type": "array", "items": DELIVERY}, has_more={"type": "boolean"}, next_cursor={}),
)
def list_deliveries(
    svc: WebhooksService,
    limit: Limit = None,
    cursor: Cursor = None,
    task_id: Annotated[str | None, Query()] = None,
    batch_id: Annotated[str | None, Query()] = None,
) -> dict:
    subject = None
    try:
        if task_id:
            subject = async_api.internal_id(task_id)
        elif batch_id:
            subject = view.internal_id(batch_id)
    except TaskNotFound:
        raise InvalidRequest("task_id or batch_id is not an id of this API") from None
    limit_, after = ids.page(present(limit=limit, cursor=cursor), "cursor", _delivery_id)
    found, last = svc.list(tenant_of(router), limit=limit_, after=after, subject=subject)
    return {"data": [view.delivery(d) for d in found], "has_more": last is not None, "next_cursor": last}


@route(router, "GET", "/v1/webhooks/deliveries/{id}", "Get a delivery, with its attempts and payload", TAG, ok=DELIVERY)
def get_delivery(id: DeliveryId, svc: WebhooksService) -> dict:
    delivery = svc.get(tenant_of(router), _delivery_id(id))
    return view.delivery(delivery, with_payload=True)


@route(
    router,
    "POST",
    "/v1/webhooks/deliveries/{id}/redeliver",
    "Deliver the event again (a new round of attempts)",
    TAG,
    ok=DELIVERY,
)
def redeliver(id: DeliveryId, svc: WebhooksService) -> dict:
    return view.delivery(svc.redeliver(tenant_of(router), _delivery_id(id)))

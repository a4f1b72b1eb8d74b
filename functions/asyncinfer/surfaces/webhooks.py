"""Webhooks: the tenant's signing secret, every delivery with its attempts, and a task as webhook events carry it.

GET /v1/webhooks/secret, POST /v1/webhooks/secret/rotate, GET /v1/webhooks/deliveries,
GET /v1/webhooks/deliveries/{id}, POST /v1/webhooks/deliveries/{id}/redeliver."""

from __future__ import annotations

import re
from datetime import datetime
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import Field

from asyncinfer.domain import ids, records
from asyncinfer.domain.errors import InvalidRequest, TaskNotFound
from asyncinfer.domain.model import Task
from asyncinfer.domain.records import BATCH_EVENTS
from asyncinfer.domain.sealing import shown_url
from asyncinfer.store.base import WebhookSecrets
from asyncinfer.surfaces import async_ids, batch_ids
from asyncinfer.surfaces.answers import absent, answer, later
from asyncinfer.surfaces.contract import Cursor, DeliveryId, Limit, present, route
from asyncinfer.surfaces.edge import tenant_of
from asyncinfer.surfaces.routing import Depends, Query, Router
from asyncinfer.tasks.webhooks import DeliveryNotFound, Webhooks


def task_data(task: Task) -> dict[str, Any]:
    """A task in webhook events: its summary, what it ran, how it ended."""
    out = {**async_ids.summary(task), "object": "task", "kind": task.kind.value, "model": task.model}
    if task.error is not None:
        out["error"] = task.error.model_dump()
    if task.batch_id is not None:
        out["batch_id"] = batch_ids.public_id(task.batch_id)
        out["custom_id"] = task.custom_id
    if task.metadata:
        out["metadata"] = task.metadata
    return out


def delivery(item: records.Delivery, *, with_payload: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": item.id,
        "object": "webhook.delivery",
        "event_type": item.event_type,
        "subject": batch_ids.public_id(item.subject)
        if item.event_type.startswith("batch.")
        else async_ids.public_id(item.subject),
        "url": item.shown or shown_url(item.url),
        "status": item.status.value,
        "attempt_count": item.attempt_count,
        "created_at": async_ids.iso(item.created_at),
        "attempts": [
            {k: v for k, v in {**a.model_dump(), "at": async_ids.iso(a.at)}.items() if v is not None}
            for a in item.attempts
        ],
    }
    for name in ("delivered_at", "failed_at"):
        value = getattr(item, name)
        if value is not None:
            out[name] = async_ids.iso(value)
    if with_payload:
        out["payload"] = item.payload
    return out


@cache
def answers() -> dict[str, Any]:
    """This surface's answer models (asyncinfer.surfaces.answers: made when the document is)."""
    Attempt = answer("Attempt", at=datetime, duration_ms=int, status_code=(int | None, None), error=(str | None, None))
    Delivery = answer(
        "WebhookDelivery",
        id=(str, Field(description="The webhook-id header of every attempt")),
        object=Literal["webhook.delivery"],
        event_type=Literal[("task.completed", "task.failed", "task.cancelled", "task.escalated", *BATCH_EVENTS)],
        subject=(str, Field(description="The task or batch the event is about")),
        url=str,
        status=Literal["pending", "delivered", "failed"],
        attempt_count=int,
        created_at=datetime,
        **dict.fromkeys(("delivered_at", "failed_at"), (datetime | None, None)),
        attempts=list[Attempt],
        payload=(str | None, absent("The exact body sent (on GET of one delivery)")),
    )
    Deliveries = answer("WebhookDeliveryList", data=list[Delivery], has_more=bool, next_cursor=str | None)
    Secret = answer(
        "WebhookSecret",
        secret=(str, Field(pattern="^whsec_")),
        previous_secret_expires_at=(
            datetime | None,
            Field(description="After a rotation: until when deliveries are also signed with the previous secret"),
        ),
    )
    return {"Delivery": Delivery, "Deliveries": Deliveries, "Secret": Secret}


Delivery, Deliveries, Secret = later(answers, "Delivery", "Deliveries", "Secret")
router = Router()
TAG = "Webhooks"
# The event's name, then a retry round's `_r<n>` and an escalation's source (`_p<part>`, `_flex`).
_DELIVERY_ID = re.compile(r"^msg_[0-9a-f]{32}_[a-z_]{1,40}(_r[0-9]{1,6})?(_[a-z0-9]{1,12})?$")


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
    return {"secret": secrets.current, "previous_secret_expires_at": async_ids.iso(grace) if grace else None}


@route(router, "GET", "/v1/webhooks/secret", "The tenant's webhook signing secret (Standard Webhooks)", TAG, ok=Secret)
def get_secret(svc: WebhooksService) -> dict:
    return _secret(svc, svc.secret(tenant_of(router)))


@route(
    router,
    "POST",
    "/v1/webhooks/secret/rotate",
    "Replace the signing secret; the previous one still signs deliveries for a grace period",
    TAG,
    ok=Secret,
)
def rotate_secret(svc: WebhooksService) -> dict:
    return _secret(svc, svc.rotate_secret(tenant_of(router)))


@route(router, "GET", "/v1/webhooks/deliveries", "List webhook deliveries, newest first", TAG, ok=Deliveries)
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
            subject = async_ids.internal_id(task_id)
        elif batch_id:
            subject = batch_ids.internal_id(batch_id)
    except TaskNotFound:
        raise InvalidRequest("task_id or batch_id is not an id of this API") from None
    limit_, after = ids.page(present(limit=limit, cursor=cursor), "cursor", _delivery_id)
    found, last = svc.list(tenant_of(router), limit=limit_, after=after, subject=subject)
    return {"data": [delivery(d) for d in found], "has_more": last is not None, "next_cursor": last}


@route(router, "GET", "/v1/webhooks/deliveries/{id}", "Get a delivery, with its attempts and payload", TAG, ok=Delivery)
def get_delivery(id: DeliveryId, svc: WebhooksService) -> dict:
    return delivery(svc.get(tenant_of(router), _delivery_id(id)), with_payload=True)


@route(
    router,
    "POST",
    "/v1/webhooks/deliveries/{id}/redeliver",
    "Deliver the event again (a new round of attempts)",
    TAG,
    ok=Delivery,
)
def redeliver(id: DeliveryId, svc: WebhooksService) -> dict:
    return delivery(svc.redeliver(tenant_of(router), _delivery_id(id)))

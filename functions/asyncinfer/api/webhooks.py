"""Webhooks: the tenant's signing secret, and every delivery with its attempts.

GET /v1/webhooks/secret, POST /v1/webhooks/secret/rotate, GET /v1/webhooks/deliveries,
GET /v1/webhooks/deliveries/{id}, POST /v1/webhooks/deliveries/{id}/redeliver."""

from __future__ import annotations

import re
from typing import Annotated

from aws_lambda_powertools.event_handler import Depends
from aws_lambda_powertools.event_handler.api_gateway import Router

from asyncinfer.domain import ids
from asyncinfer.domain.errors import InvalidRequest, TaskNotFound
from asyncinfer.domain.requests import parse_limit
from asyncinfer.http import tenant_of
from asyncinfer.tasks.dialects import async_api
from asyncinfer.tasks.dialects import batches as view
from asyncinfer.tasks.webhooks import DeliveryNotFound, Webhooks

router = Router()
_DELIVERY_ID = re.compile(r"^msg_[0-9a-f]{32}_[a-z_]{1,40}$")


def webhooks() -> Webhooks:
    raise NotImplementedError("this function provides no webhooks")


WebhooksService = Annotated[Webhooks, Depends(webhooks)]


def _delivery_id(value: str) -> str:
    if not _DELIVERY_ID.match(value):
        raise DeliveryNotFound()
    return value


@router.get("/v1/webhooks/secret")
def get_secret(svc: WebhooksService) -> dict:
    return {"secret": svc.secret(tenant_of(router))}


@router.post("/v1/webhooks/secret/rotate")
def rotate_secret(svc: WebhooksService) -> dict:
    return {"secret": svc.rotate_secret(tenant_of(router))}


@router.get("/v1/webhooks/deliveries")
def list_deliveries(svc: WebhooksService) -> dict:
    params = router.current_event.query_string_parameters or {}
    limit = parse_limit(params)
    subject = None
    try:
        if params.get("task_id"):
            subject = async_api.internal_id(params["task_id"])
        elif params.get("batch_id"):
            subject = view.internal_id(params["batch_id"])
    except TaskNotFound:
        raise InvalidRequest("task_id or batch_id is not an id of this API") from None
    _, cursor = ids.page(params, "cursor", _delivery_id)
    found, last = svc.list(tenant_of(router), limit=limit, after=cursor, subject=subject)
    return {"data": [view.delivery(d) for d in found], "has_more": last is not None, "next_cursor": last}


@router.get("/v1/webhooks/deliveries/<delivery_id>")
def get_delivery(delivery_id: str, svc: WebhooksService) -> dict:
    delivery = svc.get(tenant_of(router), _delivery_id(delivery_id))
    return view.delivery(delivery, with_payload=True)


@router.post("/v1/webhooks/deliveries/<delivery_id>/redeliver")
def redeliver(delivery_id: str, svc: WebhooksService) -> dict:
    return view.delivery(svc.redeliver(tenant_of(router), _delivery_id(delivery_id)))

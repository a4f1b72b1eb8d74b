"""Webhooks per the Standard Webhooks spec: one delivery per event and URL, signed with the tenant's
`whsec_` secret, sent at least once through a queue; every attempt is recorded on the delivery
(asyncinfer.tasks.webhook_sending sends them)."""

from __future__ import annotations

import base64
import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import KW_ONLY, dataclass
from datetime import UTC, datetime
from typing import Any

from standardwebhooks.webhooks import Webhook

from asyncinfer.domain.errors import Conflict, InvalidRequest, TaskNotFound
from asyncinfer.domain.model import WebhookTarget, now_ms
from asyncinfer.domain.records import Delivery, DeliveryStatus
from asyncinfer.queue.base import DeliveryMessage, MessageQueue
from asyncinfer.store.base import SecretsChanged, WebhookSecrets, WebhookStore

log = logging.getLogger(__name__)

SECRET_PREFIX = "whsec_"
# After a rotation the previous secret still signs every delivery for this long (configurable): a day lets
# a receiver deploy the new secret in its own release cycle, retries already queued included.
DEFAULT_SECRET_GRACE_SECONDS = 24 * 3600
ROTATE_TRIES = 3
USER_AGENT = "asyncinfer-webhooks/1"


class DeliveryNotFound(TaskNotFound):
    def __init__(self) -> None:
        super().__init__("No webhook delivery with that id")


class DeliveryPending(Conflict):
    code = "delivery_pending"


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(os.urandom(24)).decode()


def delivery_id(subject: str, event_type: str, round: int = 0, key: str = "") -> str:
    """The `webhook-id` of an event: fixed by what happened, so a repeated announcement finds the delivery. A
    retried batch ends again in each round (asyncinfer.tasks.batch_retry): each ending is an event of its own; a
    batch escalates once per source (`key`: a part `p<n>`, or `flex`)."""
    suffix = (f"_r{round}" if round else "") + (f"_{key}" if key else "")
    return f"msg_{subject}_{event_type.replace('.', '_')}{suffix}"


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def sign_headers(secrets: Sequence[str], message_id: str, payload: str, at: datetime) -> dict[str, str]:
    """Standard Webhooks headers with one signature per secret, space-separated: a receiver verifying with
    any one of them accepts the delivery (the spec's zero-downtime rotation)."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": " ".join(Webhook(secret).sign(message_id, at, payload) for secret in secrets),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


@dataclass(frozen=True)
class Escalation:
    """What an escalation event says: `id` (the batch's or task's public id), `source` (`p<n>`: a provider batch
    part; `flex`), the path left (`from`) and the class taken (`to`), how many `items` moved, and `complete_by`
    and `at` in epoch seconds."""

    public_id: str
    source: str
    from_path: str
    to: str
    items: int
    complete_by_ms: int
    at_ms: int

    def data(self) -> dict[str, Any]:
        return {
            "id": self.public_id,
            "source": self.source,
            "from": self.from_path,
            "to": self.to,
            "items": self.items,
            "complete_by": self.complete_by_ms // 1000,
            "at": self.at_ms // 1000,
        }


@dataclass
class Webhooks:
    """The API side and the announcing side: secrets, deliveries, redeliveries."""

    store: WebhookStore
    queue: MessageQueue
    retention_days: int
    _: KW_ONLY
    secret_grace_seconds: int = DEFAULT_SECRET_GRACE_SECONDS
    clock: Callable[[], int] = now_ms

    def secret(self, tenant: str) -> WebhookSecrets:
        return self.store.get_secrets(tenant) or self.store.put_secret(tenant, new_secret())

    def rotate_secret(self, tenant: str) -> WebhookSecrets:
        """A new signing secret. The one it replaces is still signed with for the grace period; one replaced
        before that is dropped, even inside its own grace period: at most two secrets sign a delivery."""
        old = self.store.get_secrets(tenant)
        for _ in range(ROTATE_TRIES):
            previous = old.current if old is not None and self.secret_grace_seconds > 0 else None
            fresh = WebhookSecrets(
                current=new_secret(),
                previous=previous,
                previous_expires_at=self.clock() + self.secret_grace_seconds * 1000 if previous else None,
            )
            try:
                self.store.replace_secrets(tenant, fresh, expected=old.current if old else None)
            except SecretsChanged as changed:  # a rotation at the same moment: this one goes after it
                old = changed.current
                continue
            return fresh
        raise Conflict("The webhook secret is being rotated by another request; try again")

    def announce(
        self,
        tenant: str,
        target: WebhookTarget,
        event_type: str,
        subject: str,
        data: dict[str, Any],
        at_ms: int,
        round: int = 0,
        key: str = "",
        traceparent: str | None = None,
    ) -> Delivery | None:
        """Record the event's delivery (once) and queue its first attempt. Safe to repeat: an event that
        was announced before is queued again only if no attempt was made yet (its message may be lost).
        `traceparent`: its task's (or batch's), whose trace each attempt joins."""
        if not target.wants(event_type):
            return None
        self.secret(tenant)  # the receiver can fetch it before the first delivery arrives
        now = now_ms()
        payload = json.dumps(
            {"type": event_type, "timestamp": iso(at_ms), "data": data}, separators=(",", ":"), ensure_ascii=False
        )
        delivery = Delivery(
            id=delivery_id(subject, event_type, round, key),
            tenant=tenant,
            event_type=event_type,
            subject=subject,
            url=target.url,
            shown=target.shown,
            payload=payload,
            created_at=now,
            updated_at=now,
            expires_at=now // 1000 + self.retention_days * 86400,
            traceparent=traceparent,
        )
        if not self.store.put_delivery(delivery):
            existing = self.store.get_delivery(tenant, delivery.id)
            if existing is None or existing.status != DeliveryStatus.PENDING or existing.attempt_count:
                return existing
            delivery = existing
        self.queue.send(DeliveryMessage(tenant=tenant, delivery_id=delivery.id))
        return delivery

    def announce_escalation(
        self,
        tenant: str,
        target: WebhookTarget | None,
        event_type: str,
        subject: str,
        escalation: Escalation,
        traceparent: str | None = None,
    ) -> Delivery | None:
        """`batch.escalated` (or `task.escalated`): a `complete_by` batch's (or task's) waiting items left their
        cheap path for a class. One delivery per subject and source, however often it is announced."""
        data = escalation.data()
        log.info("escalated", extra={"event_type": event_type, "tenant": tenant, "subject": subject, **data})
        if target is None:
            return None
        source, at = escalation.source, escalation.at_ms
        return self.announce(tenant, target, event_type, subject, data, at, key=source, traceparent=traceparent)

    def get(self, tenant: str, delivery_id: str) -> Delivery:
        delivery = self.store.get_delivery(tenant, delivery_id)
        if delivery is None or (delivery.expires_at and delivery.expires_at <= time.time()):
            raise DeliveryNotFound()
        return delivery

    def list(
        self, tenant: str, *, limit: int, after: str | None, subject: str | None
    ) -> tuple[list[Delivery], str | None]:
        if not 1 <= limit <= 100:
            raise InvalidRequest("limit must be between 1 and 100")
        prefix = f"msg_{subject}_" if subject else ""
        if after is not None and not after.startswith(prefix):
            raise InvalidRequest("cursor is not a value returned by a previous list")
        return self.store.list_deliveries(tenant, limit=limit, after=after, prefix=prefix)

    def redeliver(self, tenant: str, delivery_id: str) -> Delivery:
        """A new round of attempts (the history stays); refused while a round is under way."""
        delivery = self.get(tenant, delivery_id)
        if delivery.status == DeliveryStatus.PENDING:
            raise DeliveryPending("This delivery is still being attempted; redeliver it once it has ended")
        previous = delivery.attempt_count
        update = {"status": DeliveryStatus.PENDING, "round_start": previous, "updated_at": now_ms()}
        again = delivery.model_copy(update={**update, "delivered_at": None, "failed_at": None})
        if not self.store.save_delivery(again, previous_count=previous):
            raise DeliveryPending("This delivery changed meanwhile; read it again")
        self.queue.send(DeliveryMessage(tenant=tenant, delivery_id=delivery_id))
        return again

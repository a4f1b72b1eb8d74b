"""Webhooks per the Standard Webhooks spec: one delivery per event and URL, signed with the tenant's
`whsec_` secret, sent at least once through a queue; every attempt is recorded on the delivery."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import KW_ONLY, dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import httpx2
from standardwebhooks.webhooks import Webhook

from asyncinfer.domain.errors import Conflict, InvalidRequest, TaskNotFound
from asyncinfer.domain.model import WebhookTarget, now_ms
from asyncinfer.domain.records import Attempt, Delivery, DeliveryStatus
from asyncinfer.domain.sealing import Sealer, SealingFailed, webhook_context
from asyncinfer.domain.ssrf import STRICT, OutboundPolicy, Pinned, RefusedUrl, pin
from asyncinfer.queue.base import DeliveryMessage, MessageQueue
from asyncinfer.store.base import SecretsChanged, WebhookSecrets, WebhookStore
from asyncinfer.tools.guarded_http import GuardedTransport, system_resolver

log = logging.getLogger(__name__)

SECRET_PREFIX = "whsec_"
# After a rotation the previous secret still signs every delivery for this long (configurable): a day lets
# a receiver deploy the new secret in its own release cycle, retries already queued included.
DEFAULT_SECRET_GRACE_SECONDS = 24 * 3600
ROTATE_TRIES = 3
MAX_ATTEMPTS_KEPT = 20
MAX_ERROR_CHARS = 300
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
    ) -> Delivery | None:
        """Record the event's delivery (once) and queue its first attempt. Safe to repeat: an event that
        was announced before is queued again only if no attempt was made yet (its message may be lost)."""
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
        )
        if not self.store.put_delivery(delivery):
            existing = self.store.get_delivery(tenant, delivery.id)
            if existing is None or existing.status != DeliveryStatus.PENDING or existing.attempt_count:
                return existing
            delivery = existing
        self.queue.send(DeliveryMessage(tenant=tenant, delivery_id=delivery.id))
        return delivery

    def announce_escalation(
        self, tenant: str, target: WebhookTarget | None, event_type: str, subject: str, escalation: Escalation
    ) -> Delivery | None:
        """`batch.escalated` (or `task.escalated`): a `complete_by` batch's (or task's) waiting items left their
        cheap path for a class. One delivery per subject and source, however often it is announced."""
        data = escalation.data()
        log.info("escalated", extra={"event_type": event_type, "tenant": tenant, "subject": subject, **data})
        if target is None:
            return None
        return self.announce(tenant, target, event_type, subject, data, escalation.at_ms, key=escalation.source)

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


class DeliveryOutcome(StrEnum):
    DELIVERED = "delivered"
    FAILED = "failed"
    SKIPPED = "skipped"


class RetryDelivery(Exception):
    """This attempt failed and another is due: the queue brings the message back after a backoff."""


@dataclass(frozen=True)
class SendPolicy:
    max_attempts: int = 8
    timeout_seconds: float = 10
    outbound: OutboundPolicy = STRICT


Post = Callable[[Pinned, bytes, dict[str, str], float], int]


def http_post(target: Pinned, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """One attempt, all of it (connecting, sending, the answer's status line) within `timeout`; the answer's
    body is never read. The connection goes to the address that was checked (TLS still verifies the host
    name); redirects are not followed, as a 3xx could point anywhere, past the check."""
    return asyncio.run(_post(target, body, headers, timeout))


async def _post(target: Pinned, body: bytes, headers: dict[str, str], timeout: float) -> int:
    # Only the status counts: the answer's body is never read, whatever its declared length.
    transport = GuardedTransport({target.host: target.address}, max_response_bytes=sys.maxsize)
    try:
        async with asyncio.timeout(timeout):
            async with (
                httpx2.AsyncClient(transport=transport, timeout=timeout, follow_redirects=False) as client,
                client.stream("POST", target.original, content=body, headers=headers) as response,
            ):
                return response.status_code
    except TimeoutError:
        raise TimeoutError(f"no answer within {timeout:g} s") from None


@dataclass
class WebhookSender:
    store: WebhookStore
    policy: SendPolicy
    sealer: Sealer
    post: Post = http_post
    clock: Callable[[], int] = now_ms

    def attempt(self, message: DeliveryMessage) -> DeliveryOutcome:
        """One attempt of a pending delivery. Raises RetryDelivery when it failed and may be tried again."""
        delivery = self.store.get_delivery(message.tenant, message.delivery_id)
        if delivery is None or delivery.status != DeliveryStatus.PENDING:
            return DeliveryOutcome.SKIPPED
        started = time.monotonic()
        status_code: int | None = None
        error: str | None = None
        permanent = False
        try:
            url = self.sealer.open([delivery.url], webhook_context(delivery.tenant))[0]
            target = pin(url, self.policy.outbound, system_resolver)
            secrets = self.store.get_secrets(delivery.tenant)
            if secrets is None:
                raise RuntimeError("the tenant has no webhook secret")
            # Signed when sent, not when queued: a rotation meanwhile is honoured, with its grace period.
            at = self.clock()
            headers = sign_headers(
                secrets.signing(at), delivery.id, delivery.payload, datetime.fromtimestamp(at / 1000, UTC)
            )
            status_code = self.post(target, delivery.payload.encode(), headers, self.policy.timeout_seconds)
            if not 200 <= status_code < 300:
                error = f"HTTP {status_code}"
        except (RefusedUrl, SealingFailed) as exc:
            error, permanent = str(exc), True
        except Exception as exc:  # a timeout, a refused connection, a TLS error: all worth another try
            error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS]
        attempt = Attempt(
            at=self.clock(), duration_ms=int((time.monotonic() - started) * 1000), status_code=status_code, error=error
        )
        count = delivery.attempt_count + 1
        changes: dict[str, Any] = {}
        if error is None:
            changes.update(status=DeliveryStatus.DELIVERED, delivered_at=attempt.at)
        elif permanent or count - delivery.round_start >= self.policy.max_attempts:
            changes.update(status=DeliveryStatus.FAILED, failed_at=attempt.at)
        updated = with_attempt(delivery, attempt, changes)
        if not self.store.save_delivery(updated, previous_count=delivery.attempt_count):
            return DeliveryOutcome.SKIPPED  # another attempt of the same delivery ran meanwhile and was recorded
        if updated.status == DeliveryStatus.DELIVERED:
            return DeliveryOutcome.DELIVERED
        if updated.status == DeliveryStatus.FAILED:
            log.warning("webhook delivery %s failed after %d attempts", delivery.id, count - delivery.round_start)
            return DeliveryOutcome.FAILED
        raise RetryDelivery(error or "failed")


def fail_dead_lettered(store: WebhookStore, message: DeliveryMessage) -> bool:
    """A delivery whose message kept failing the sender itself (it reached the webhook dead-letter queue) is
    recorded failed, with why, so that it never reads pending forever."""
    delivery = store.get_delivery(message.tenant, message.delivery_id)
    if delivery is None or delivery.status != DeliveryStatus.PENDING:
        return False
    attempt = Attempt(at=now_ms(), duration_ms=0, error="The sender failed on this delivery repeatedly: dead-lettered")
    updated = with_attempt(delivery, attempt, {"status": DeliveryStatus.FAILED, "failed_at": attempt.at})
    return store.save_delivery(updated, previous_count=delivery.attempt_count)


def with_attempt(delivery: Delivery, attempt: Attempt, changes: dict[str, Any]) -> Delivery:
    """`delivery` with `attempt` recorded (the newest MAX_ATTEMPTS_KEPT kept, all of them counted) and `changes`."""
    kept = [*delivery.attempts, attempt][-MAX_ATTEMPTS_KEPT:]
    counted = {"attempts": kept, "attempt_count": delivery.attempt_count + 1, "updated_at": attempt.at}
    return delivery.model_copy(update={**counted, **changes})

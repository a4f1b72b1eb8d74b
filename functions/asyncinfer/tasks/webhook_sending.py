"""The webhook sender's side: one signed attempt of a delivery, under a span of its task's (or batch's) trace,
recorded on the delivery; a failed one is retried by the queue until the delivery runs out of attempts."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from opentelemetry.trace import Span, StatusCode

from asyncinfer.domain.model import now_ms
from asyncinfer.domain.records import Attempt, Delivery, DeliveryStatus
from asyncinfer.domain.sealing import Sealer, SealingFailed, webhook_context
from asyncinfer.domain.ssrf import STRICT, OutboundPolicy, Pinned, RefusedUrl, pin
from asyncinfer.observability import tracing
from asyncinfer.queue.base import DeliveryMessage
from asyncinfer.store.base import WebhookStore
from asyncinfer.tasks.webhooks import sign_headers

log = logging.getLogger(__name__)

MAX_ATTEMPTS_KEPT = 20
MAX_ERROR_CHARS = 300


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
    import asyncio  # with httpx, by the first attempt: the dead-letter function never sends

    return asyncio.run(_post(target, body, headers, timeout))


async def _post(target: Pinned, body: bytes, headers: dict[str, str], timeout: float) -> int:
    import asyncio

    import httpx2

    from asyncinfer.tools.guarded_http import GuardedTransport

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
        with tracing.span(
            "webhook delivery", parent=delivery.traceparent, kind=tracing.SpanKind.CLIENT, attributes=_about(delivery)
        ) as span:
            status_code, error, permanent = self._send(delivery, span)
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

    def _send(self, delivery: Delivery, span: Span) -> tuple[int | None, str | None, bool]:
        """One POST, under the attempt's span (its trace goes along in `traceparent`): the answer's status, the
        error if it failed, and whether that error is permanent. The span gets the status, never the URL."""
        from asyncinfer.tools.guarded_http import system_resolver

        status_code: int | None = None
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
            headers.update(tracing.headers(span))
            status_code = self.post(target, delivery.payload.encode(), headers, self.policy.timeout_seconds)
            span.set_attribute("http.response.status_code", status_code)
            if not 200 <= status_code < 300:
                span.set_attribute("error.type", str(status_code))
                span.set_status(StatusCode.ERROR)
                return status_code, f"HTTP {status_code}", False
            return status_code, None, False
        except (RefusedUrl, SealingFailed) as exc:
            failed, permanent = str(exc), True
        except Exception as exc:  # a timeout, a refused connection, a TLS error: all worth another try
            failed, permanent = f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS], False
            span.set_attribute("error.type", type(exc).__name__)
        span.set_status(StatusCode.ERROR)
        return status_code, failed, permanent


def _about(delivery: Delivery) -> dict[str, Any]:
    """A delivery's span attributes: its ids and its event's type (never its URL or payload)."""
    subject = tracing.BATCH_ID if delivery.event_type.startswith("batch.") else tracing.TASK_ID
    return {tracing.DELIVERY_ID: delivery.id, tracing.EVENT_TYPE: delivery.event_type, subject: delivery.subject}


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

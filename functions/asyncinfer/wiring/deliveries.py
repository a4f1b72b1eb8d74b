"""Builds the objects of the webhook side: the deliveries' store, the announcer every function that emits events
uses, the notifier's endings and the sender."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from asyncinfer.wiring import client, sealer

if TYPE_CHECKING:
    from asyncinfer.config import NotifierSettings, WebhookApiSettings, WebhookSenderSettings
    from asyncinfer.store.dynamodb_records import DynamoWebhookStore
    from asyncinfer.tasks.endings import Endings
    from asyncinfer.tasks.webhook_sending import WebhookSender
    from asyncinfer.tasks.webhooks import Webhooks


class Announcing(Protocol):
    """A function's settings where it announces events (escalations) without serving the webhooks API."""

    table_name: str
    webhook_queue_url: str | None
    retention_days: int


def webhook_store(table_name: str) -> DynamoWebhookStore:
    from asyncinfer.store.dynamodb_records import DynamoWebhookStore

    return DynamoWebhookStore(client("dynamodb"), table_name)


def webhooks(settings: WebhookApiSettings) -> Webhooks:
    from asyncinfer.queue.sqs import SqsQueue
    from asyncinfer.tasks.webhooks import Webhooks

    return Webhooks(
        webhook_store(settings.table_name),
        SqsQueue(client("sqs"), settings.webhook_queue_url),
        retention_days=settings.retention_days,
        secret_grace_seconds=settings.webhook_secret_grace_seconds,
    )


def endings(settings: NotifierSettings) -> Endings:
    from asyncinfer.blobs.s3 import S3BlobStore
    from asyncinfer.store.dynamodb_records import DynamoBatchStore
    from asyncinfer.surfaces import openai_batches
    from asyncinfer.surfaces import webhooks as webhook_surface
    from asyncinfer.tasks.batch_tracker import BatchTracker
    from asyncinfer.tasks.endings import Endings
    from asyncinfer.tasks.payloads import Payloads
    from asyncinfer.tasks.service import read_result

    blobs = S3BlobStore(client("s3"), settings.bucket_name)
    hooks = webhooks(settings)
    payloads = Payloads(
        webhook_surface.task_data, openai_batches.render, openai_batches.result_line, openai_batches.file_line
    )
    tracker = BatchTracker(
        DynamoBatchStore(client("dynamodb"), settings.table_name),
        blobs,
        hooks,
        lambda task: read_result(blobs, task),
        payloads,
    )
    return Endings(tracker, hooks, payloads)


def webhook_sender(settings: WebhookSenderSettings) -> WebhookSender:
    from asyncinfer.tasks.webhook_sending import SendPolicy, WebhookSender

    return WebhookSender(
        webhook_store(settings.table_name),
        SendPolicy(
            max_attempts=settings.webhook_max_attempts,
            timeout_seconds=settings.webhook_timeout_seconds,
            outbound=settings.outbound().webhooks,
        ),
        sealer(settings),
    )


def announcer(settings: Announcing) -> Webhooks | None:
    """The webhooks a function announces its events through; None where it has no webhook queue."""
    from asyncinfer.queue.sqs import SqsQueue
    from asyncinfer.tasks.webhooks import Webhooks

    if not settings.webhook_queue_url:
        return None
    queue = SqsQueue(client("sqs"), settings.webhook_queue_url)
    return Webhooks(webhook_store(settings.table_name), queue, settings.retention_days)

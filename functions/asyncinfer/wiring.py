"""Builds the AWS-backed objects a handler needs. Only handlers and the CLI call this."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from asyncinfer.blobs.s3 import S3BlobStore
from asyncinfer.config import ApiSettings, WorkerSettings
from asyncinfer.providers.base import ChatProvider, MediaProvider
from asyncinfer.providers.local import DemoChatProvider
from asyncinfer.providers.media import DemoMediaProvider
from asyncinfer.providers.registry import ModelRegistry, ModelSpec
from asyncinfer.queue.sqs import SqsTaskQueue
from asyncinfer.store.dynamodb import DynamoTaskStore
from asyncinfer.tasks.model import TaskKind
from asyncinfer.tasks.service import SubmitLimits, TaskService
from asyncinfer.tasks.worker import Worker, WorkerConfig

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=3, read_timeout=20)


# SigV4 presigned URLs: every region accepts them, and they carry an explicit X-Amz-Expires.
_S3_CONFIG = _CONFIG.merge(Config(signature_version="s3v4"))


def client(service: str) -> Any:
    return boto3.client(service, config=_S3_CONFIG if service == "s3" else _CONFIG)


def task_store(table_name: str) -> DynamoTaskStore:
    return DynamoTaskStore(client("dynamodb"), table_name)


def task_service(settings: ApiSettings) -> TaskService:
    return TaskService(
        store=task_store(settings.table_name),
        queue=SqsTaskQueue(client("sqs"), settings.queue_url),
        blobs=S3BlobStore(client("s3"), settings.bucket_name),
        registry=ModelRegistry.load(settings.models_file),
        limits=SubmitLimits(
            max_request_bytes=settings.max_request_bytes,
            inline_request_bytes=settings.inline_request_bytes,
            retention_days=settings.retention_days,
            download_url_seconds=settings.download_url_seconds,
        ),
    )


def worker(settings: WorkerSettings) -> Worker:
    chat = DemoChatProvider(seconds=settings.demo_chat_seconds)
    media = DemoMediaProvider(seconds=settings.demo_media_seconds)

    def provider_for(spec: ModelSpec) -> ChatProvider | MediaProvider:
        return chat if spec.kind == TaskKind.CHAT else media

    return Worker(
        store=task_store(settings.table_name),
        blobs=S3BlobStore(client("s3"), settings.bucket_name),
        registry=ModelRegistry.load(settings.models_file),
        provider_for=provider_for,
        config=WorkerConfig(
            flush_seconds=settings.flush_seconds,
            max_attempts=settings.max_attempts,
            inline_result_bytes=settings.inline_result_bytes,
            deadline_margin_ms=int(settings.deadline_margin_seconds * 1000),
        ),
    )

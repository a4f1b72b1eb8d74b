"""Builds the AWS-backed objects a handler needs. Only handlers and the CLI call this."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from asyncinfer.blobs.s3 import S3BlobStore
from asyncinfer.config import ApiSettings, WorkerSettings
from asyncinfer.providers.base import ChatProvider
from asyncinfer.providers.local import DemoChatProvider
from asyncinfer.providers.registry import ModelRegistry, ModelSpec
from asyncinfer.queue.sqs import SqsTaskQueue
from asyncinfer.store.dynamodb import DynamoTaskStore
from asyncinfer.tasks.service import SubmitLimits, TaskService
from asyncinfer.tasks.worker import Worker, WorkerConfig

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=3, read_timeout=20)


def client(service: str) -> Any:
    return boto3.client(service, config=_CONFIG)


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
        ),
    )


def worker(settings: WorkerSettings) -> Worker:
    demo = DemoChatProvider(seconds=settings.demo_chat_seconds)

    def provider_for(spec: ModelSpec) -> ChatProvider:
        return demo

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

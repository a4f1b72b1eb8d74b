"""A client for asyncinfer's Async API and generation surface (`Client`, `AsyncClient`)."""

from asyncinfer_client.aio import AsyncClient, AsyncTask
from asyncinfer_client.client import Client, Task
from asyncinfer_client.errors import (
    APIError,
    Conflict,
    InvalidRequest,
    NotFound,
    RateLimited,
    ServiceUnavailable,
    TaskFailed,
    Unauthorized,
    WaitTimeout,
)
from asyncinfer_client.events import Event
from asyncinfer_client.webhooks import unwrap

__all__ = [
    "APIError",
    "AsyncClient",
    "AsyncTask",
    "Client",
    "Conflict",
    "Event",
    "InvalidRequest",
    "NotFound",
    "RateLimited",
    "ServiceUnavailable",
    "Task",
    "TaskFailed",
    "Unauthorized",
    "WaitTimeout",
    "unwrap",
]

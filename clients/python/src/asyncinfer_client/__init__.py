"""A client for asyncinfer's Async API and generation surface (`Client`, `AsyncClient`)."""

from asyncinfer_client._core import Retry
from asyncinfer_client.aio import AsyncClient, AsyncTask
from asyncinfer_client.client import Client, Task
from asyncinfer_client.errors import (
    APIError,
    Conflict,
    Forbidden,
    InvalidRequest,
    NotFound,
    OverBudget,
    RateLimited,
    ServiceUnavailable,
    TaskFailed,
    TooLarge,
    Unauthorized,
    WaitTimeout,
)
from asyncinfer_client.events import Event
from asyncinfer_client.views import OutputFile, Status, TaskView
from asyncinfer_client.webhooks import unwrap

__all__ = [
    "APIError",
    "AsyncClient",
    "AsyncTask",
    "Client",
    "Conflict",
    "Event",
    "Forbidden",
    "InvalidRequest",
    "NotFound",
    "OutputFile",
    "OverBudget",
    "RateLimited",
    "Retry",
    "ServiceUnavailable",
    "Status",
    "Task",
    "TaskFailed",
    "TaskView",
    "TooLarge",
    "Unauthorized",
    "WaitTimeout",
    "unwrap",
]

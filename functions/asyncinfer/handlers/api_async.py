"""The Async API function: the routes of asyncinfer.api.async_api, asyncinfer.api.models and
asyncinfer.api.usage, with this instance's task service."""

from __future__ import annotations

from asyncinfer.api import async_api, deps, models, usage
from asyncinfer.config import ApiSettings
from asyncinfer.handlers.shared import entry_point, service
from asyncinfer.http import build_app

SETTINGS = ApiSettings  # the infra tests check each deployed environment against it

app = build_app(async_api.router, models.router, usage.router, provide={deps.task_service: service})
lambda_handler = entry_point(app)

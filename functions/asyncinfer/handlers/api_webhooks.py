"""The webhooks function: the routes of asyncinfer.api.webhooks, with this instance's webhooks service."""

from __future__ import annotations

from asyncinfer import wiring
from asyncinfer.api import webhooks as webhooks_api
from asyncinfer.config import WebhookApiSettings
from asyncinfer.handlers.shared import entry_point
from asyncinfer.http import build_app
from asyncinfer.tasks.webhooks import Webhooks

SETTINGS = WebhookApiSettings  # the infra tests check each deployed environment against it


@wiring.cached
def webhooks() -> Webhooks:
    return wiring.webhooks(SETTINGS())


app = build_app(webhooks_api.router, provide={webhooks_api.webhooks: webhooks})
lambda_handler = entry_point(app)

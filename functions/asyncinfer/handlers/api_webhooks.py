"""The webhooks function: the routes of asyncinfer.surfaces.webhooks, with this instance's webhooks service."""

from __future__ import annotations

from asyncinfer.handlers.cold import cold_start

with cold_start():  # the imports: the function's cold start
    from typing import TYPE_CHECKING

    from asyncinfer import wiring
    from asyncinfer.config import WebhookApiSettings
    from asyncinfer.handlers.entry import entry_point
    from asyncinfer.surfaces import webhooks as webhooks_surface
    from asyncinfer.surfaces.edge import build_app
    from asyncinfer.wiring import deliveries

if TYPE_CHECKING:
    from asyncinfer.tasks.webhooks import Webhooks

SETTINGS = WebhookApiSettings  # the infra tests check each deployed environment against it


@wiring.cached
def webhooks() -> Webhooks:
    return deliveries.webhooks(SETTINGS())


app = build_app(webhooks_surface.router, provide={webhooks_surface.webhooks: webhooks})
lambda_handler = entry_point(app)

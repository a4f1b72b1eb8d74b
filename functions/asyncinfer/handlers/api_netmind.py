"""The NetMind function: the routes of asyncinfer.surfaces.netmind, with this instance's task service."""

from __future__ import annotations

from asyncinfer.handlers.cold import cold_start

with cold_start():  # the imports: the function's cold start
    from asyncinfer.config import ApiSettings
    from asyncinfer.handlers.shared import entry_point, service
    from asyncinfer.surfaces import contract, netmind
    from asyncinfer.surfaces.edge import build_app

SETTINGS = ApiSettings  # the infra tests check each deployed environment against it

app = build_app(netmind.router, provide={contract.task_service: service})
lambda_handler = entry_point(app)

"""The docs function: GET /openapi.json and GET /docs (Swagger UI), public, no task access."""

from __future__ import annotations

from asyncinfer.handlers.cold import cold_start

with cold_start():  # the imports: the function's cold start
    from asyncinfer.config import DocsSettings
    from asyncinfer.handlers.entry import entry_point
    from asyncinfer.surfaces import docs
    from asyncinfer.surfaces.edge import build_app

SETTINGS = DocsSettings  # the infra tests check each deployed environment against it

app = build_app(docs.router)
lambda_handler = entry_point(app)

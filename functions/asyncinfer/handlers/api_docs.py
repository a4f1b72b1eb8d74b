"""GET /openapi.json and GET /docs (Swagger UI): public, no task access."""

from __future__ import annotations

import json

from aws_lambda_powertools.event_handler import Response, content_types

from asyncinfer import openapi
from asyncinfer.config import DocsSettings
from asyncinfer.handlers.shared import entry_point
from asyncinfer.http import build_resolver

app = build_resolver()

SETTINGS = DocsSettings  # the infra tests check each deployed environment against it


def _json() -> Response:
    return Response(
        status_code=200,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(openapi.document()),
        headers={"Cache-Control": "public, max-age=300"},
    )


@app.get("/openapi.json")
def document() -> Response:
    return _json()


@app.get("/docs")
def docs() -> Response:
    # Swagger UI asks for the document again at ?format=json.
    if (app.current_event.query_string_parameters or {}).get("format") == "json":
        return _json()
    return Response(status_code=200, content_type="text/html; charset=utf-8", body=openapi.swagger_page())


lambda_handler = entry_point(app)

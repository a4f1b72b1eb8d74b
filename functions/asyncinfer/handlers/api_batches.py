"""The batches function: the routes of asyncinfer.api.batches and asyncinfer.api.files, with this
instance's batches service."""

from __future__ import annotations

from asyncinfer import wiring
from asyncinfer.api import batches as batches_api
from asyncinfer.api import files as files_api
from asyncinfer.config import BatchSettings
from asyncinfer.handlers.shared import entry_point
from asyncinfer.http import build_app
from asyncinfer.tasks.batches import Batches

SETTINGS = BatchSettings  # the infra tests check each deployed environment against it


@wiring.cached
def batches() -> Batches:
    return wiring.batches(SETTINGS())


app = build_app(batches_api.router, files_api.router, provide={batches_api.batches: batches})
lambda_handler = entry_point(app)

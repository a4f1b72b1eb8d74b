"""The batches function: the routes of asyncinfer.surfaces.openai_batches, .openai_files and .anthropic_batches,
with this instance's batches service."""

from __future__ import annotations

from asyncinfer import wiring
from asyncinfer.config import BatchSettings
from asyncinfer.handlers.shared import entry_point
from asyncinfer.surfaces import anthropic_batches, openai_batches, openai_files
from asyncinfer.surfaces.edge import build_app
from asyncinfer.tasks.batches import Batches

SETTINGS = BatchSettings  # the infra tests check each deployed environment against it


@wiring.cached
def batches() -> Batches:
    return wiring.batches(SETTINGS())


app = build_app(
    openai_batches.router,
    openai_files.router,
    anthropic_batches.router,
    provide={openai_batches.batches: batches},
)
lambda_handler = entry_point(app)

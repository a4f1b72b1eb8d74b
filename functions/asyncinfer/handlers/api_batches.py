"""The batches function: the routes of asyncinfer.surfaces.openai_batches, .batch_results, .batch_retry,
.openai_files and .anthropic_batches, with this instance's batches service."""

from __future__ import annotations

from asyncinfer.handlers.cold import cold_start

with cold_start():  # the imports: the function's cold start
    from typing import TYPE_CHECKING, Any

    from asyncinfer import wiring
    from asyncinfer.config import BatchSettings
    from asyncinfer.handlers.shared import entry_point
    from asyncinfer.surfaces import (
        anthropic_batches,
        batch_results,
        batch_retry,
        openai_batches,
        openai_files,
    )
    from asyncinfer.surfaces.edge import build_app
    from asyncinfer.tasks.batch_partial import PartialResults
    from asyncinfer.tasks.service import read_result

if TYPE_CHECKING:
    from asyncinfer.domain.model import Task
    from asyncinfer.tasks.batches import Batches
    from asyncinfer.tasks.service import TaskService

SETTINGS = BatchSettings  # the infra tests check each deployed environment against it


@wiring.cached
def batches() -> Batches:
    return wiring.batches(SETTINGS())


@wiring.cached
def partial_results() -> PartialResults:
    """Read with the batches service's own store and bucket, its lines spelled as the results file's."""
    svc = batches()
    return PartialResults(
        svc.store,
        lambda task: read_result(svc.tasks.blobs, task),
        openai_batches.result_line,
        lambda task: _responses_request(svc.tasks, task),
    )


def _responses_request(tasks: TaskService, task: Task) -> dict[str, Any] | None:
    # Imported here: only a /v1/responses batch's lines read their request as the Responses API spells it.
    from asyncinfer.surfaces import openai_responses

    return openai_responses.request_of(tasks, task)


app = build_app(
    openai_batches.router,
    batch_results.router,
    batch_retry.router,
    openai_files.router,
    anthropic_batches.router,
    provide={openai_batches.batches: batches, batch_results.partial_results: partial_results},
)
lambda_handler = entry_point(app)

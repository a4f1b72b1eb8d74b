"""A batch's failed items run again, our extension beside OpenAI's Batch API: POST /v1/batches/{id}/retry
(asyncinfer.tasks.batch_retry)."""

from __future__ import annotations

from asyncinfer.domain.batches import RetryRequest
from asyncinfer.surfaces.contract import Id, body, route
from asyncinfer.surfaces.edge import tenant_of
from asyncinfer.surfaces.openai_batches import TAG, Batch, BatchesService, internal_id, render
from asyncinfer.surfaces.routing import Router

router = Router()


@route(
    router,
    "POST",
    "/v1/batches/{id}/retry",
    "Run a batch's failed (and, if asked, expired) items again",
    TAG,
    ok=Batch,
    description="Not in OpenAI's Batch API. On a batch that ended `completed` or `expired`: its failed items "
    "(with `include_expired`, its expired ones too) run again as new tasks, in the same batch, which is "
    "`in_progress` again until they end; the items that completed are not run again. Their reservation is held "
    "as a submit's. The batch's counts then count each item's latest run, and its files are written again once it "
    "ends. `completion_window` gives the retry a window of its own (else the batch's window starts again). Send "
    "`{}` for the defaults. 400 `batch_not_ended` while it runs (a second retry racing one gets it too), 409 "
    "`batch_not_retryable` once cancelled, 400 `nothing_to_retry` when no item failed.",
    takes_body=True,
    example={"include_expired": False},
)
def retry_batch(id: Id, svc: BatchesService, request: body(RetryRequest)) -> dict:
    return render(svc.retry(tenant_of(router), internal_id(id), request))

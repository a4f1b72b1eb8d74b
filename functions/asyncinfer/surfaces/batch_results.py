"""A batch's results while it runs, our extension beside OpenAI's Batch API: GET /v1/batches/{id}/results, the
items ended so far in the order they ended, each a line of the results file with its `ended_at`, a page at a
time `after` the previous page's `last_id` (asyncinfer.tasks.batch_partial)."""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any, Literal

from pydantic import Field

from asyncinfer.domain.requests import parse_limit
from asyncinfer.surfaces.answers import absent, answer, later, shared
from asyncinfer.surfaces.batch_costs import DOLLARS
from asyncinfer.surfaces.contract import Cursor, Id, Limit, present, route
from asyncinfer.surfaces.edge import tenant_of
from asyncinfer.surfaces.openai_batches import TAG, BatchesService, internal_id
from asyncinfer.surfaces.routing import Depends, Router
from asyncinfer.tasks.batch_partial import SETTLE_MS, PartialResults


@cache
def answers() -> dict[str, Any]:
    """This surface's answer models (asyncinfer.surfaces.answers: made when the document is)."""
    ResultLine = answer(
        "BatchResultLine",
        custom_id=str,
        id=(str | None, Field(description="The item's task")),
        status=(str, Field(description="The item's task status: COMPLETED, FAILED or CANCELLED")),
        response=(dict[str, Any] | None, Field(description="A completed item's result, as in the results file")),
        error=(shared().ErrorBody | None, Field(description="Why an item that did not complete ended")),
        usage=(dict[str, Any] | None, None),
        path=(str | None, absent("How it ran: provider_batch, or the class it ran in (flex, default, priority)")),
        cost=(str | None, Field(None, pattern=DOLLARS, description="US dollars it was charged (a decimal string)")),
        cost_on_demand=(str | None, Field(None, pattern=DOLLARS, description="US dollars its usage costs on demand")),
        ended_at=(int, Field(description="When the item ended, Unix milliseconds")),
        round=(
            int | None,
            absent("The retry's round this ending is of (POST /v1/batches/{id}/retry); absent: the first run"),
        ),
    )
    ResultsPage = answer(
        "BatchResultsPage",
        object=Literal["list"],
        data=list[ResultLine],
        first_id=(str | None, Field(description="Where this page started (the `after` given)")),
        last_id=(str | None, Field(description="The cursor of the next page: pass it as `after`")),
        has_more=(bool, Field(description="More ended items can be read now")),
        ended=(bool, Field(description="The batch had ended: once has_more is false, these are all its results")),
    )
    return {"ResultsPage": ResultsPage}


(ResultsPage,) = later(answers, "ResultsPage")

router = Router()


def partial_results() -> PartialResults:
    raise NotImplementedError("this function provides no partial results")


PartialService = Annotated[PartialResults, Depends(partial_results)]


@route(
    router,
    "GET",
    "/v1/batches/{id}/results",
    "Read a batch's results so far, in the order its items ended",
    TAG,
    ok=ResultsPage,
    description="Not in OpenAI's Batch API. The items ended so far, oldest ending first, each a line of the "
    "results file (`response` or `error`, as the output and error files have them) with `ended_at`. Pass "
    "`last_id` as `after` for the next page; an empty page keeps `last_id` where it was. While the batch runs, "
    f"endings of the last {SETTLE_MS // 1000} s are held back, so a page never skips an item recorded late; once "
    "it ended (`ended`), every item is there.",
)
def batch_results(
    id: Id, svc: BatchesService, partial: PartialService, limit: Limit = None, after: Cursor = None
) -> dict:
    batch = svc.get(tenant_of(router), internal_id(id))
    page = partial.page(batch, after=after, limit=parse_limit(present(limit=limit)))
    return {
        "object": "list",
        "data": page.lines,
        "first_id": after,
        "last_id": page.last,
        "has_more": page.has_more,
        "ended": page.ended,
    }

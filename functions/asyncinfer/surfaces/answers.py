"""What the surfaces' answers share, as the pydantic models the document's schemas are generated from
(asyncinfer.surfaces.docs): the error body, what every read of a task adds about when it runs, OpenAI's lists,
and the shape of one Server-Sent Event. Each surface's own answers are models in its module.

The models are made when the document is, never by a request: a surface makes its models in a function of its
own and names them with `later` for its routes (`ok=`), so a function importing a surface builds none of them
(~0.2 ms a model, a tenth of a surface's import). The shared ones are `shared()`'s."""

from __future__ import annotations

from collections.abc import Callable
from copy import copy
from functools import cache
from types import SimpleNamespace
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, create_model


class Later:
    """An answer model named before it is made: `model()` makes its surface's models, once, and gives it."""

    __slots__ = ("make", "name")

    def __init__(self, make: Callable[[], dict[str, Any]], name: str) -> None:
        self.make, self.name = make, name

    def model(self) -> Any:
        return self.make()[self.name]


def later(make: Callable[[], dict[str, Any]], *names: str) -> tuple[Later, ...]:
    """The models `make` (a cached function returning them by name) makes, each named for a route's `ok=`."""
    return tuple(Later(make, name) for name in names)


def made(model: Any) -> Any:
    """A route's answer model, made now if it was named `later`."""
    return model.model() if isinstance(model, Later) else model


def _as_sent(schema: dict[str, Any]) -> None:
    """Properties as the answers send them: a field defaulting to None is left out when unknown, never sent as null
    (unless marked `nullable`), so its schema is its type alone; no generated titles; a constant as a one-value enum."""
    for prop in schema.get("properties", {}).values():
        prop.pop("title", None)
        if prop.get("default", 0) is None:
            del prop["default"]
            if not prop.pop("nullable", False):
                prop.update(next(v for v in prop.pop("anyOf", [{}]) if v != {"type": "null"}))
        if "const" in prop:
            prop["enum"] = [prop.pop("const")]


Url = Annotated[str, WithJsonSchema({"type": "string", "format": "uri"})]
Stamp = TypeVar("Stamp")
STAMPED = ("estimated_start_at", "estimated_finish_at", "start_deadline_at", "deadline_at")


def answer(name: str, *bases: type[BaseModel], **fields: Any) -> type[BaseModel]:
    """The model of an answer, `name` in the document: each field a type (required) or (type, default); a field
    defaulting to None is left out of the answer when unknown."""
    specs = {key: spec if isinstance(spec, tuple) else (spec, ...) for key, spec in fields.items()}
    return create_model(name, __base__=bases or shared().Answer, **specs)


def openai_list_of(name: str, item: type[BaseModel], **extra: Any) -> type[BaseModel]:
    """A page as OpenAI's lists have it (asyncinfer.surfaces.contract.openai_list)."""
    ends = dict.fromkeys(("first_id", "last_id"), str | None)
    return answer(name, object=Literal["list"], data=list[item], **ends, has_more=bool, **extra)


def absent(description: str, *, nullable: bool = False) -> Any:
    """A field left out of the answer when unknown (`nullable`: sent as null when it is), with its description."""
    return Field(None, description=description, json_schema_extra={"nullable": True} if nullable else None)


@cache
def shared() -> SimpleNamespace:
    """The models every surface's answers build on: the answer's base, the error body, a read's timing."""

    class Answer(BaseModel):
        """The model of an answer: it documents the dict a renderer returns (the test_openapi_answers tests, unit and
        integration, check every answer against it). Made when the document is, never by a request."""

        model_config = ConfigDict(json_schema_extra=_as_sent, defer_build=True)

    class Open(Answer):
        """An answer with fields of its own besides those named (a chat completion's, merged in)."""

        model_config = ConfigDict(extra="allow")

    ErrorBody = answer("ErrorBody", Answer, code=str, message=str)
    Error = answer("Error", Answer, error=ErrorBody)

    class Progress(Answer):
        step: int | None = absent("Steps done (a tool loop's steps of tool calls); absent for an upstream job")
        steps: int | None = absent("How many there will be, when that is known")
        percent: float | None = absent("The part done, when it can be told (an upstream job's own)")
        message: str | None = None
        elapsed_seconds: int | None = absent(
            "An upstream job that reports no percent (a Nova Reel video): how long it had run at its last poll (polls "
            "are seconds apart)"
        )
        estimated_seconds: int | None = absent(
            "With elapsed_seconds, when the model's registry gives it: how long its jobs usually take. A job past it "
            "is late; it is never reported done before it is"
        )

    class OnDemandCost(Answer):
        """US dollars, as usage.cost has them."""

        input_tokens_cost: float
        output_tokens_cost: float
        media_cost: float
        request_cost: float
        total_cost: float

    class Timing(Answer, Generic[Stamp]):
        """What every read of a task adds about when it runs (asyncinfer.tasks.reads.timing), its times as its
        surface spells them."""

        service_tier: Literal["priority", "default", "flex"]
        path: Literal["provider_batch", "on_demand", "flex", "default", "priority"] | None = absent(
            "How it runs: a batch item's path (in a provider batch job, or handed back on demand), or with complete_by "
            "the class it runs in (which escalation may change while it waits)"
        )
        complete_by: int | None = absent("Unix seconds: done by then, as cheaply as possible (as submitted)")
        cost_on_demand: OnDemandCost | None = absent(
            "Once ended: what its usage would have cost at the default class's on-demand prices (usage.cost is what "
            "it was charged)"
        )
        queue_position: int | None = absent(
            "While not yet started: how many tasks (of every tenant) wait before it in its class. Exact while only its "
            "tenant's own tasks are ahead (they start in the order they came)"
        )
        queue_position_estimated: bool | None = absent(
            "Present (true) while other tenants' tasks wait ahead of it: each class is a fair queue, which starts a "
            "quieter tenant's tasks before a busier one's, so the position is an estimate"
        )
        progress: Progress | None = None
        estimated_start_at: Stamp | None = absent(
            "While not yet started: when it should start, from its class's starts over the last minute (null while the "
            "class started nothing lately)",
            nullable=True,
        )
        estimated_finish_at: Stamp | None = absent(
            "While running, when its progress tells how far it is (a percent, or steps done of a known number of "
            "steps): when it should finish at the pace it kept since it started. An upstream job with only "
            "estimated_seconds: its start plus that, until that time has passed"
        )
        start_deadline_at: Stamp | None = absent(
            "While not yet started, with a start deadline (start_timeout, X-Fal-Request-Timeout or Cancel-After): not "
            "started by then, it ends FAILED `start_timeout` and never runs"
        )
        deadline_at: Stamp | None = absent(
            "With an end deadline (Cancel-After, or execution_timeout from its start): still running then, it is "
            "stopped and ends FAILED `deadline_exceeded`"
        )
        execution_timeout: float | None = absent(
            "While not yet started: the execution timeout asked for (seconds from its start)"
        )

    return SimpleNamespace(
        Answer=Answer,
        Open=Open,
        ErrorBody=ErrorBody,
        Error=Error,
        Progress=Progress,
        OnDemandCost=OnDemandCost,
        Timing=Timing,
    )


def timed(stamp: type) -> type[BaseModel]:
    """`Timing[stamp]` without building a model: parametrizing a generic model builds its origin's schema at once
    (defer_build or not)."""
    timing = shared().Timing
    fields = {name: (stamp | None, copy(timing.model_fields[name])) for name in STAMPED}
    return answer(f"Timing[{stamp.__name__}]", timing, **fields)


# One event of the stream (OpenAPI 3.1 tools read `schema` as the per-event schema, 3.2's itemSchema).
SSE = {
    "text/event-stream": {
        "schema": {
            "type": "object",
            "required": ["data"],
            "properties": {
                "data": {"type": "string", "contentMediaType": "application/json"},
                "event": {"type": "string", "description": "absent on the OpenAI-chunk streams (`message`)"},
                "id": {"type": "string", "pattern": "^[0-9]+$", "description": "the event's sequence number"},
                "retry": {"type": "integer"},
            },
        }
    }
}

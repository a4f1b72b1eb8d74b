"""Models, as OpenAI's Models API lists them: GET /v1/models and GET /v1/models/{model}, from the registry; and
the answer to OpenAI's synchronous POST /v1/chat/completions, which says where its body goes here."""

from __future__ import annotations

from functools import cache
from typing import Any, Literal

from asyncinfer.domain.catalog import ModelSpec
from asyncinfer.domain.errors import TaskNotFound
from asyncinfer.surfaces.answers import answer, later
from asyncinfer.surfaces.contract import Id, Tasks, route
from asyncinfer.surfaces.routing import Router


class NotServed(TaskNotFound):
    code = "not_served"


Kind = Literal["chat", "image", "audio", "video", "embedding"]


@cache
def answers() -> dict[str, Any]:
    """This surface's answer models (asyncinfer.surfaces.answers: made when the document is)."""
    Model = answer("Model", id=str, object=Literal["model"], created=int, owned_by=str, kind=Kind)
    Models = answer("ModelList", object=Literal["list"], data=list[Model])
    return {"Model": Model, "Models": Models}


Model, Models = later(answers, "Model", "Models")
router = Router()
TAG = "Models"
OWNER = "asyncinfer"


def render(model_id: str, spec: ModelSpec) -> dict[str, Any]:
    # `created` is when the model was made; the registry does not know, and OpenAI's clients need a number.
    return {"id": model_id, "object": "model", "created": 0, "owned_by": OWNER, "kind": spec.kind.value}


@route(router, "GET", "/v1/models", "List the models of this deployment's registry", TAG, ok=Models)
def list_models(svc: Tasks) -> dict:
    models = svc.registry.models
    return {"object": "list", "data": [render(model_id, models[model_id]) for model_id in sorted(models)]}


@route(router, "GET", "/v1/models/{id}", "Get a model", TAG, ok=Model)
def get_model(id: Id, svc: Tasks) -> dict:
    spec = svc.registry.models.get(id)
    if spec is None:
        raise TaskNotFound(f"No model {id!r}; GET /v1/models lists them")
    return render(id, spec)


@route(
    router,
    "POST",
    "/v1/chat/completions",
    "Not served: a synchronous completion (404 not_served, saying where its body goes)",
    TAG,
    description="This API is asynchronous. The same body is a task at POST /v1/async, or a batch item "
    "(POST /v1/batches with endpoint /v1/chat/completions).",
)
def chat_completions() -> dict:
    raise NotServed(
        "POST /v1/chat/completions is synchronous and not served here: send the same body to POST /v1/async "
        "and read the chat completion at GET /v1/async/{id} (or stream it at GET /v1/async/{id}/events), or batch "
        "it: POST /v1/files, then POST /v1/batches with endpoint /v1/chat/completions"
    )

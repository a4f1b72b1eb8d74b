"""An embeddings request as OpenAI's `/v1/embeddings` takes it (here: a line of a batch of that endpoint),
checked against its model, and the answer in OpenAI's shape."""

from __future__ import annotations

import base64
import struct
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from asyncinfer.domain.catalog import ModelRegistry, ModelSpec
from asyncinfer.domain.errors import InvalidRequest
from asyncinfer.domain.model import TaskKind
from asyncinfer.domain.requests import validation_message
from asyncinfer.domain.submission import Prepared, Submission, SubmitLimits, check_servable, fingerprint

# OpenAI's bounds: at most 2048 inputs in one request.
MAX_INPUTS = 2048
MAX_INPUT_CHARS = 100_000


class EmbeddingRequest(BaseModel):
    """OpenAI's embeddings body. Text only: token arrays are refused by name."""

    model_config = ConfigDict(defer_build=True, extra="forbid", strict=True)

    model: str = Field(min_length=1, max_length=256)
    input: str | list[str] = Field(min_length=1)
    dimensions: int | None = Field(default=None, ge=1)
    encoding_format: Literal["float", "base64"] = "float"
    user: str | None = Field(default=None, max_length=256)

    def texts(self) -> list[str]:
        return [self.input] if isinstance(self.input, str) else list(self.input)


def _token_arrays(value: Any) -> bool:
    if not isinstance(value, list) or not value:
        return False
    return all(isinstance(x, int) for x in value) or all(isinstance(x, list) for x in value)


def parse_embedding(body: dict[str, Any]) -> EmbeddingRequest:
    if _token_arrays(body.get("input")):
        raise InvalidRequest("input: token arrays are not supported here; send the text (a string or a list of them)")
    try:
        request = EmbeddingRequest.model_validate(body)
    except ValidationError as exc:
        raise InvalidRequest(validation_message(exc)) from None
    texts = request.texts()
    if len(texts) > MAX_INPUTS:
        raise InvalidRequest(f"input has {len(texts)} items; at most {MAX_INPUTS}")
    for index, text in enumerate(texts):
        where = "input" if isinstance(request.input, str) else f"input.{index}"
        if not text.strip():
            raise InvalidRequest(f"{where}: an input must not be empty")
        if len(text) > MAX_INPUT_CHARS:
            raise InvalidRequest(f"{where}: an input is at most {MAX_INPUT_CHARS} characters")
    return request


def check_against(request: EmbeddingRequest, spec: ModelSpec) -> None:
    """What the model can give: `dimensions` (at most its own, and one of its choices) and its input length
    (counted in whitespace words, the tokenizer stand-in every demo model uses)."""
    most = spec.dimensions or 0
    asked = request.dimensions
    if asked is not None and asked > most:
        raise InvalidRequest(f"dimensions {asked} exceeds {most}, the length of {request.model}'s vectors")
    if asked is not None and spec.dimension_choices and asked not in spec.dimension_choices:
        choices = ", ".join(map(str, spec.dimension_choices))
        raise InvalidRequest(f"dimensions {asked} is not offered by {request.model}; it gives {choices}")
    if spec.max_input_tokens is not None:
        for index, text in enumerate(request.texts()):
            if len(text.split()) > spec.max_input_tokens:
                raise InvalidRequest(
                    f"input.{index} is longer than {spec.max_input_tokens} tokens, {request.model}'s limit"
                )


def prepare_embedding(
    registry: ModelRegistry, limits: SubmitLimits, body: dict[str, Any], how: Submission = Submission()
) -> Prepared:
    """An embeddings body validated against the registry, ready to become a task (a batch item)."""
    request = parse_embedding(body)
    spec = registry.resolve(request.model, TaskKind.EMBEDDING)
    check_servable(request.model, spec, registry, limits)
    check_against(request, spec)
    stored = request.model_dump(mode="json", exclude_none=True)
    return Prepared(TaskKind.EMBEDDING, request.model, stored, fingerprint(how.surface, body), {})


def embeddings_response(
    model: str, vectors: list[list[float]], prompt_tokens: int, encoding_format: str = "float"
) -> dict[str, Any]:
    """OpenAI's embeddings answer; base64 is the vector's float32 values, little-endian, as OpenAI sends it."""
    data = [
        {"object": "embedding", "index": index, "embedding": _encoded(vector, encoding_format)}
        for index, vector in enumerate(vectors)
    ]
    usage = {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens}
    return {"object": "list", "data": data, "model": model, "usage": usage}


def _encoded(vector: list[float], encoding_format: str) -> list[float] | str:
    if encoding_format == "base64":
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
    return vector

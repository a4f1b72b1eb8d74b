"""The model registry: public model id -> provider, upstream model, kind and limits."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from asyncinfer.tasks.errors import UnknownModel
from asyncinfer.tasks.model import TaskKind


class ModelSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: Literal["local"]
    upstream: str
    kind: TaskKind
    max_output_tokens: int = Field(default=4096, ge=1)


class ModelRegistry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1]
    models: dict[str, ModelSpec]

    @classmethod
    def load(cls, path: Path | None = None) -> ModelRegistry:
        """The registry file given, or the one shipped in the package."""
        text = path.read_text() if path else resources.files("asyncinfer").joinpath("models.json").read_text()
        return cls.model_validate(json.loads(text))

    def resolve(self, model_id: str, kind: TaskKind) -> ModelSpec:
        spec = self.models.get(model_id)
        if spec is None or spec.kind != kind:
            raise UnknownModel(f"Unknown {kind.value} model {model_id!r}; available: {', '.join(self.ids(kind))}")
        return spec

    def ids(self, kind: TaskKind) -> list[str]:
        return sorted(model_id for model_id, spec in self.models.items() if spec.kind == kind)

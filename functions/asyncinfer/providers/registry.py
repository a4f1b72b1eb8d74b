"""Reading the model registry file: the deployment's, or the one shipped in the package."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from asyncinfer.domain.catalog import ModelRegistry


def load_registry(path: Path | None = None) -> ModelRegistry:
    text = path.read_text() if path else resources.files("asyncinfer").joinpath("models.json").read_text()
    return ModelRegistry.from_json(text)

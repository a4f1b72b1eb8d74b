"""A test's own model registry, given to the functions as an operator gives one: a file named by
ASYNCINFER_MODELS_FILE."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from asyncinfer import wiring


def serve_models(registry: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """From now on the functions serve `registry` (their cached objects are made again on first use)."""
    path = tmp_path / "models.json"
    path.write_text(json.dumps(registry))
    monkeypatch.setenv("ASYNCINFER_MODELS_FILE", str(path))
    wiring.reset()
    return path

"""How a function's settings are read: a pydantic model filled from ASYNCINFER_* variables, validated at cold
start; the model every function's extends, and those of the functions that read nothing more."""

from __future__ import annotations

import json
import os
import types
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from asyncinfer.domain.limits import MAX_STREAM_SECONDS

ENV_PREFIX = "ASYNCINFER_"


def _json_valued(annotation: Any) -> bool:
    """A list, dict, set or model (or a union with one) is given as JSON in its variable, as pydantic-settings
    reads it; anything else is given as its text."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _json_valued(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return any(_json_valued(arg) for arg in get_args(annotation))
    kind = origin or annotation
    return kind in (list, dict, set, frozenset, tuple) or (isinstance(kind, type) and issubclass(kind, BaseModel))


def _environment(cls: type[EnvSettings]) -> dict[str, Any]:
    """The values `cls` reads from this process's environment: variable names are matched case-insensitively,
    `ASYNCINFER_<FIELD>` unless the field names its own variables (validation_alias)."""
    found = {name.lower(): value for name, value in os.environ.items()}
    values: dict[str, Any] = {}
    for name, field in cls.model_fields.items():
        alias = field.validation_alias
        choices = alias.choices if isinstance(alias, AliasChoices) else [alias] if isinstance(alias, str) else []
        for variable in [str(choice) for choice in choices] or [ENV_PREFIX + name]:
            raw = found.get(variable.lower())
            if raw is None:
                continue
            try:
                values[name] = json.loads(raw) if _json_valued(field.annotation) else raw
            except ValueError as exc:
                raise ValueError(f"{variable.upper()} is not JSON: {exc}") from None
            break
    return values


class EnvSettings(BaseModel):
    """A settings model read from the environment (arguments win), as pydantic-settings' BaseSettings reads it:
    its ~70 ms of imports are every function's cold start, for the one source the functions use."""

    # env_prefix: what the docs list as each field's variable (docs/hooks/generated.py).
    model_config = ConfigDict(
        extra="ignore", frozen=True, defer_build=True, validate_default=True, populate_by_name=True
    ) | {"env_prefix": ENV_PREFIX}

    def __init__(self, **values: Any) -> None:
        super().__init__(**{**_environment(type(self)), **values})


class DocsSettings(EnvSettings):
    """The docs function reads nothing but its own package, and where its spans go, as every function does."""

    # Where spans go: X-Ray's OTLP traces endpoint (set on AWS from cdk.json's `tracing`); unset, nowhere.
    # Read by asyncinfer.observability.exporting; named here so a deployed environment is checked at cold start.
    traces_endpoint: str | None = None
    # The share of traces kept, decided where each trace starts (docs/operate/tracing.md).
    trace_sample_rate: float = Field(default=1.0, ge=0, le=1)
    # Browser origins whose pages may read the answers, comma-separated (cdk.json's `cors_origins`); unset, none.
    # Read by asyncinfer.surfaces.cors on each answer; named here as the traces endpoint is.
    cors_origins: str = ""


class _Settings(DocsSettings):
    table_name: str = Field(min_length=3)


class PrunerSettings(DocsSettings):
    """The daily prune of the long-task runner's old versions (asyncinfer.ops.prune)."""

    runner_function_name: str = Field(min_length=1)
    # The newest versions kept whatever runs on them: the current one and the one a rollback returns to.
    prune_keep: int = Field(ge=0)


class AuthorizerSettings(_Settings):
    pass


class DeadLetterSettings(_Settings):
    pass


class StreamSettings(_Settings):
    poll_seconds: float = Field(default=0.15, gt=0)
    keepalive_seconds: float = Field(default=15, gt=0)
    # Below the function timeout: the stream closes cleanly and the client resumes with Last-Event-ID.
    max_stream_seconds: float = Field(default=MAX_STREAM_SECONDS, gt=0)
    # Quiet streams poll ever less often, up to this interval.
    max_poll_seconds: float = Field(default=2.0, gt=0)
    # Streams one tenant may hold open at once (each holds a function instance); more is a 429. 0: no cap.
    max_streams_per_tenant: int = Field(default=20, ge=0)

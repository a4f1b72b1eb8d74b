"""The model catalog: public model id -> provider, upstream model, kind, limits and prices. Read from a
registry file by asyncinfer.providers.registry.load_registry."""

from __future__ import annotations

import difflib
import json
import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from asyncinfer.domain.errors import UnknownModel
from asyncinfer.domain.model import MEDIA_KINDS, Cost, ServiceTier, TaskKind, Usage


class Prices(BaseModel):
    """US dollars. Token prices are per million tokens."""

    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)

    input_per_million: float = Field(default=0, ge=0)
    output_per_million: float = Field(default=0, ge=0)
    per_request: float = Field(default=0, ge=0)
    per_image: float = Field(default=0, ge=0)
    per_second: float = Field(default=0, ge=0)  # of audio or video

    def cost(self, usage: Usage) -> Cost:
        input_cost = round(usage.prompt_tokens * self.input_per_million / 1_000_000, 8)
        output_cost = round(usage.completion_tokens * self.output_per_million / 1_000_000, 8)
        media_cost = round((usage.images or 0) * self.per_image + (usage.seconds or 0) * self.per_second, 8)
        return Cost(
            input_tokens_cost=input_cost,
            output_tokens_cost=output_cost,
            media_cost=media_cost,
            request_cost=self.per_request,
            total_cost=round(input_cost + output_cost + media_cost + self.per_request, 8),
        )


class SecretRef(BaseModel):
    """Where a provider's credential comes from: an environment variable (locally, or to override), else
    a Secrets Manager secret on AWS (its whole string, or one key of a JSON secret)."""

    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)

    env: str | None = None
    secret_arn: str | None = Field(default=None, pattern=r"^arn:aws[a-z-]*:secretsmanager:")
    json_key: str | None = None


class OpenAIConfig(BaseModel):
    """Any server speaking the OpenAI API: OpenAI, vLLM, Ollama, LiteLLM, ..."""

    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)

    type: Literal["openai"]
    base_url: str | None = None  # None: api.openai.com
    # Defaults made by factories: an instance made here would build its (deferred) model at import.
    api_key: SecretRef = Field(default_factory=lambda: SecretRef(env="OPENAI_API_KEY"))
    timeout_seconds: float = Field(default=120, gt=0)
    # The SDK's own retries (exponential backoff, honouring Retry-After) before the task is retried.
    max_retries: int = Field(default=2, ge=0, le=10)
    stream: bool = True  # some servers cannot stream; they are called once and the answer logged whole
    # Serve this provider's chat models as Responses API background jobs (`background: true`, polled,
    # cancellable): the long-task runner waits between polls without compute. Its models run as long tasks.
    background: bool = False


class BedrockConfig(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)

    type: Literal["bedrock"]
    region: str | None = None  # None: the function's own region
    timeout_seconds: float = Field(default=120, gt=0)
    stream: bool = True


ProviderConfig = Annotated[OpenAIConfig | BedrockConfig, Field(discriminator="type")]
LOCAL = "local"


class BatchApi(BaseModel):
    """A chat model's provider-native batch jobs (asyncinfer.providers.batch_jobs): Bedrock batch inference
    (CreateModelInvocationJob over S3 JSONL) or an OpenAI-compatible server's Files + Batches. Per model, as
    Bedrock's quotas are ("Minimum number of records per batch inference job for ${Model}",
    https://docs.aws.amazon.com/bedrock/latest/userguide/quotas.html): fewer items than `min_records` run
    on demand, more are split into jobs of at most `max_records`."""

    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)

    api: Literal["bedrock", "openai"]
    min_records: int = Field(default=100, ge=1)
    max_records: int = Field(default=10_000, ge=1)
    # The longest wait between two polls of a running job (no compute while waiting).
    poll_seconds: int = Field(default=60, ge=1, le=3600)
    # Bedrock: the service role the jobs run as (reads the input, writes the output in the bucket); by default the
    # one the stack makes (infra/components/batch_jobs.py).
    role_arn: str | None = Field(default=None, pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/")
    # How long its jobs usually take, in seconds: `complete_by`'s estimate until a job reports records processed.
    expected_seconds: int | None = Field(default=None, ge=1, le=7 * 24 * 3600)

    @model_validator(mode="after")
    def _bounds(self) -> BatchApi:
        if self.max_records < self.min_records:
            raise ValueError("batch.max_records is below batch.min_records")
        return self


class ModelSpec(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)

    provider: str = Field(min_length=1)  # "local" (the offline demo models) or a key of `providers`
    upstream: str
    kind: TaskKind
    max_output_tokens: int = Field(default=4096, ge=1)
    prices: Prices = Field(default_factory=Prices)
    # Media models: the output formats they can produce (None: whatever is asked).
    output_formats: list[str] | None = None
    # Where its tasks run: "worker" (within one worker invocation) or "durable" (the long-task runner:
    # each model turn and tool call a checkpointed step, so a task may outlast any one invocation).
    runs: Literal["worker", "durable"] = "worker"
    # Tools the model is always given, besides a request's MCP servers: the demo deep-research model's
    # offline research tools.
    tools: Literal["demo-research"] | None = None
    # A model run as a job upstream whose job reports no progress (Nova Reel): how long its jobs usually take, in
    # seconds (at most a week, the runner's default longest execution). While such a job runs, its task's progress says
    # how long it has run and this estimate (asyncinfer.domain.job_progress). Amazon Nova Reel "typically takes about 90
    # seconds for a 6 second video and approximately 14-17 minutes for a 2 minute video"
    # (https://docs.aws.amazon.com/nova/latest/userguide/video-gen-access.html): the shipped registries give demo-video,
    # its stand-in (amazon.nova-reel-v1:0, whose videos here are 6 s), 90.
    expected_seconds: int | None = Field(default=None, ge=1, le=7 * 24 * 3600)
    # Embedding models: the length of their vectors, the shorter lengths a request may ask for in `dimensions`
    # (None: any up to `dimensions`, as OpenAI's text-embedding-3 models), and the most tokens one input may have.
    dimensions: int | None = Field(default=None, ge=1, le=16384)
    dimension_choices: list[int] | None = None
    max_input_tokens: int | None = Field(default=None, ge=1)
    # Chat models whose provider runs batch jobs: how (`batch`) and the provider's published batch price
    # (`batch_prices`, usually half of `prices`). Without both, a batch's items run on demand.
    batch: BatchApi | None = None
    batch_prices: Prices | None = None
    # How long one request usually takes on demand, in seconds: `complete_by`'s estimate of on-demand's pace.
    item_seconds: float | None = Field(default=None, gt=0, le=3600)

    @model_validator(mode="after")
    def _batch_jobs(self) -> ModelSpec:
        if (self.batch is None) != (self.batch_prices is None):
            raise ValueError("a model with batch jobs gives both `batch` and `batch_prices`")
        if self.batch is not None and self.kind != TaskKind.CHAT:
            raise ValueError("batch jobs are for chat models only")
        return self

    @model_validator(mode="after")
    def _dimensions_of_embeddings(self) -> ModelSpec:
        embedding = self.kind == TaskKind.EMBEDDING
        if embedding and self.dimensions is None:
            raise ValueError("an embedding model gives its vectors' length in `dimensions`")
        if not embedding and (self.dimensions, self.dimension_choices, self.max_input_tokens) != (None, None, None):
            raise ValueError("dimensions, dimension_choices and max_input_tokens are for embedding models only")
        if self.dimension_choices and (self.dimensions or 0) not in self.dimension_choices:
            raise ValueError("dimension_choices must include the model's own `dimensions`")
        return self


class ModelRegistry(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)

    version: Literal[1]
    providers: dict[str, ProviderConfig] = Field(default_factory=dict)
    models: dict[str, ModelSpec]
    # The chat model for requests that name none (PrivateGPT's `model` is optional).
    default_chat_model: str | None = None
    # What each service class pays, as a multiple of the models' prices (a class not named: 1).
    class_prices: dict[ServiceTier, Annotated[float, Field(ge=0, le=100)]] = Field(default_factory=dict)

    def for_tier(self, spec: ModelSpec, tier: ServiceTier) -> ModelSpec:
        """`spec` with its prices as `tier` pays them."""
        factor = self.class_prices.get(tier, 1.0)
        if factor == 1.0:
            return spec
        scaled = {name: value * factor for name, value in spec.prices.model_dump().items()}
        return spec.model_copy(update={"prices": Prices(**scaled)})

    @model_validator(mode="after")
    def _providers_exist(self) -> ModelRegistry:
        if LOCAL in self.providers:
            raise ValueError(f"{LOCAL!r} is the built-in demo provider; name yours otherwise")
        for model_id, spec in self.models.items():
            if spec.provider != LOCAL and spec.provider not in self.providers:
                raise ValueError(f"model {model_id!r} names provider {spec.provider!r}, which is not in `providers`")
        return self

    @model_validator(mode="after")
    def _jobs_run_as_long_tasks(self) -> ModelRegistry:
        for model_id, spec in self.models.items():
            if self.upstream_job(spec) and spec.runs != "durable":
                raise ValueError(f'model {model_id!r} runs as a job upstream, so as a long task: "runs": "durable"')
            if spec.expected_seconds is not None and not self.upstream_job(spec):
                raise ValueError(f"model {model_id!r} gives expected_seconds, which only a job run upstream uses")
        return self

    @model_validator(mode="after")
    def _batch_apis_match_providers(self) -> ModelRegistry:
        for model_id, spec in self.models.items():
            if spec.batch is None or spec.provider == LOCAL:
                continue  # the local demo models' batch jobs go to the local stack's stand-ins
            provider = self.providers[spec.provider]
            if provider.type != spec.batch.api:
                raise ValueError(f"model {model_id!r}: batch api {spec.batch.api!r} on a {provider.type} provider")
        return self

    def batch_api(self, spec: ModelSpec) -> BatchApi | None:
        """The model's provider-native batch jobs, if it has them."""
        return spec.batch if spec.batch_prices is not None else None

    def at_batch_prices(self, spec: ModelSpec) -> ModelSpec:
        """`spec` with its prices as its batch jobs pay them."""
        if spec.batch_prices is None:
            raise ValueError("the model has no batch price")
        return spec.model_copy(update={"prices": spec.batch_prices})

    def runner_only(self, spec: ModelSpec) -> bool:
        """Whether the model's tasks can run on the long-task runner alone: its research tools, its upstream
        jobs or its media need the runner's steps. Any other model marked durable (a deep-research model
        behind a plain chat API) runs on the worker where a deployment has no runner."""
        return spec.runs == "durable" and (
            spec.kind != TaskKind.CHAT or spec.tools is not None or self.upstream_job(spec)
        )

    def upstream_job(self, spec: ModelSpec) -> bool:
        """Whether the model's tasks are jobs started upstream and polled (videos, background responses)."""
        provider = self.providers.get(spec.provider)
        return spec.kind == TaskKind.VIDEO or (isinstance(provider, OpenAIConfig) and provider.background)

    @model_validator(mode="after")
    def _default_is_a_chat_model(self) -> ModelRegistry:
        if self.default_chat_model is not None:
            spec = self.models.get(self.default_chat_model)
            if spec is None or spec.kind != TaskKind.CHAT:
                raise ValueError(f"default_chat_model {self.default_chat_model!r} is not a chat model of this registry")
        return self

    def default_chat(self) -> str:
        if self.default_chat_model is not None:
            return self.default_chat_model
        chat = self.ids(TaskKind.CHAT)
        if not chat:
            raise UnknownModel("No chat model is configured")
        return chat[0]

    @classmethod
    def from_json(cls, text: str) -> ModelRegistry:
        return cls.model_validate(json.loads(text))

    def resolve(self, model_id: str, kind: TaskKind) -> ModelSpec:
        spec = self.models.get(model_id)
        if spec is not None and spec.kind != kind and TaskKind.EMBEDDING in (spec.kind, kind):
            raise UnknownModel(
                f"{model_id!r} is {_article(spec.kind)} {spec.kind.value} model, not {_article(kind)} {kind.value} "
                f"model; {kind.value} models: {', '.join(self.ids(kind)) or 'none'}"
            )
        if spec is None or spec.kind != kind:
            ids = self.ids(kind)
            raise UnknownModel(
                f"Unknown {kind.value} model {model_id!r}{_near(model_id, ids)}; available: {', '.join(ids)}"
            )
        return spec

    def resolve_media(self, model_id: str) -> ModelSpec:
        spec = self.models.get(model_id)
        if spec is not None and spec.kind == TaskKind.EMBEDDING:
            raise UnknownModel(
                f"{model_id!r} is an embedding model, not an image, audio or video model: submit it in a batch "
                "with endpoint /v1/embeddings"
            )
        if spec is None or spec.kind not in MEDIA_KINDS:
            media = sorted(m for m, s in self.models.items() if s.kind in MEDIA_KINDS)
            raise UnknownModel(
                f"Unknown generation model {model_id!r}{_near(model_id, media)}; available: {', '.join(media)}"
            )
        return spec

    def provider_config(self, spec: ModelSpec) -> OpenAIConfig | BedrockConfig | None:
        return None if spec.provider == LOCAL else self.providers[spec.provider]

    def secret_arns(self) -> list[str]:
        arns = {c.api_key.secret_arn for c in self.providers.values() if isinstance(c, OpenAIConfig)}
        return sorted(arn for arn in arns if arn)

    def ids(self, kind: TaskKind) -> list[str]:
        return sorted(model_id for model_id, spec in self.models.items() if spec.kind == kind)


def _article(kind: TaskKind) -> str:
    return "an" if kind.value[0] in "aeiou" else "a"


def _near(model_id: str, ids: list[str]) -> str:
    """ "; did you mean 'gpt-4o'?" for a typo of a known id (case and punctuation aside), else ""."""
    folded = {re.sub(r"[^a-z0-9]", "", known.lower()): known for known in ids}
    close = difflib.get_close_matches(re.sub(r"[^a-z0-9]", "", model_id.lower()), list(folded), n=1, cutoff=0.75)
    return f" (did you mean {folded[close[0]]!r}?)" if close else ""

"""Which provider serves a model: the registry's `providers`, the offline demo models for "local", and
in dev an OpenAI-compatible server for the local chat models when OPENAI_BASE_URL is set."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from asyncinfer.domain.catalog import LOCAL, BedrockConfig, ModelRegistry, ModelSpec, OpenAIConfig, SecretRef
from asyncinfer.domain.model import TaskKind
from asyncinfer.providers.base import ChatProvider, EmbeddingProvider, JobProvider, MediaProvider
from asyncinfer.providers.demo.chat import DemoChatProvider
from asyncinfer.providers.demo.embed import DemoEmbedder
from asyncinfer.providers.demo.media import DemoMediaProvider
from asyncinfer.providers.demo.research import RESEARCH_MODEL, DemoResearchProvider, Pace
from asyncinfer.providers.secrets import resolve

Provider = ChatProvider | MediaProvider | EmbeddingProvider


@dataclass(frozen=True)
class LocalOptions:
    demo_chat_seconds: float = 3.0
    demo_media_seconds: float = 1.0
    demo_research: Pace = field(default_factory=Pace)
    # The demo video model's jobs: a bedrock-runtime client for the offline job service.
    demo_video_jobs: Callable[[], Any] | None = None
    # Dev: serve the local chat models from this OpenAI-compatible server instead of the demo model.
    openai_base_url: str | None = None
    openai_model: str | None = None  # the upstream model there (default: the registry's upstream)


class Providers:
    def __init__(
        self,
        registry: ModelRegistry,
        local: LocalOptions = LocalOptions(),
        bedrock_client: Callable[[BedrockConfig], Any] | None = None,
        put_object: Callable[[str, bytes, str], None] | None = None,
        object_exists: Callable[[str], bool] | None = None,
    ) -> None:
        self._registry = registry
        self._local = local
        self._bedrock_client = bedrock_client
        # Writes a job's output into the deployment's bucket, for upstreams that cannot (OpenAI's videos).
        self._put_object = put_object
        # Whether a job's output is in the bucket yet (Bedrock's may land after the job reads Completed).
        self._object_exists = object_exists
        self._built: dict[str, Provider] = {}

    @property
    def registry(self) -> ModelRegistry:
        return self._registry

    def jobs(self, spec: ModelSpec) -> JobProvider | None:
        """The model's upstream jobs, for a model whose tasks are jobs (ModelRegistry.upstream_job)."""
        if not self._registry.upstream_job(spec):
            return None
        config = self._registry.provider_config(spec)
        if isinstance(config, OpenAIConfig):
            from asyncinfer.providers.openai_jobs import OpenAIBackgroundJobs

            factory = openai_client(config)
            if spec.kind == TaskKind.VIDEO:
                from asyncinfer.providers.openai_videos import OpenAIVideoJobs

                assert self._put_object is not None, "no bucket wired for the videos' outputs"
                return OpenAIVideoJobs(factory, self._put_object)
            return OpenAIBackgroundJobs(factory)
        from asyncinfer.providers.bedrock_jobs import BedrockVideoJobs

        if isinstance(config, BedrockConfig):
            assert self._bedrock_client is not None, "no Bedrock client factory wired"
            return BedrockVideoJobs(self._bedrock_client(config), self._object_exists)
        assert self._local.demo_video_jobs is not None, "no demo video job service wired"
        return BedrockVideoJobs(self._local.demo_video_jobs(), self._object_exists)

    def upstream(self, spec: ModelSpec) -> str:
        if spec.provider == LOCAL and spec.kind == TaskKind.CHAT and self._local.openai_base_url:
            return self._local.openai_model or spec.upstream
        return spec.upstream

    def __call__(self, spec: ModelSpec) -> Provider:
        if spec.kind == TaskKind.EMBEDDING:
            return self._embedder(spec)
        key = spec.provider
        if spec.provider == LOCAL:
            key = f"{LOCAL}:{'chat' if spec.kind == TaskKind.CHAT else 'media'}"
            if spec.upstream == RESEARCH_MODEL:
                key = f"{LOCAL}:{RESEARCH_MODEL}"
        if key not in self._built:
            self._built[key] = self._build(spec)
        return self._built[key]

    def _build(self, spec: ModelSpec) -> Provider:
        config = self._registry.provider_config(spec)
        if config is None:
            if spec.kind != TaskKind.CHAT:
                return DemoMediaProvider(seconds=self._local.demo_media_seconds)
            if spec.upstream == RESEARCH_MODEL:
                return DemoResearchProvider(self._local.demo_research)
            if self._local.openai_base_url:
                config = OpenAIConfig(type="openai", base_url=self._local.openai_base_url)
            else:
                return DemoChatProvider(seconds=self._local.demo_chat_seconds)
        if isinstance(config, OpenAIConfig):
            from asyncinfer.providers.openai_provider import OpenAIProvider

            return OpenAIProvider(openai_client(config), stream=config.stream)
        from asyncinfer.providers.bedrock_provider import BedrockProvider

        assert self._bedrock_client is not None, "no Bedrock client factory wired"
        return BedrockProvider(self._bedrock_client(config), stream=config.stream)

    def _embedder(self, spec: ModelSpec) -> EmbeddingProvider:
        # Keyed apart from the provider's chat and media: the same provider's models share one client each.
        key = f"{spec.provider}:embedding:{spec.dimensions if spec.provider == LOCAL else ''}"
        if key not in self._built:
            config = self._registry.provider_config(spec)
            if isinstance(config, OpenAIConfig):
                from asyncinfer.providers.openai_embed import OpenAIEmbedder

                self._built[key] = OpenAIEmbedder(openai_client(config))
            elif isinstance(config, BedrockConfig):
                from asyncinfer.providers.bedrock_embed import BedrockEmbedder

                assert self._bedrock_client is not None, "no Bedrock client factory wired"
                self._built[key] = BedrockEmbedder(self._bedrock_client(config))
            else:
                self._built[key] = DemoEmbedder(spec.dimensions or 256)
        return self._built[key]  # type: ignore[return-value]


def openai_client(config: OpenAIConfig) -> Callable[[], Any]:
    """Builds the SDK's client of `config`; its key is resolved only then."""
    from asyncinfer.providers.openai_provider import client_factory

    key_ref: SecretRef = config.api_key
    return client_factory(config.base_url, lambda: resolve(key_ref), config.timeout_seconds, config.max_retries)

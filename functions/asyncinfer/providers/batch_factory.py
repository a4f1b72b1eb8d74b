"""Which batch jobs a model's items go up as (ModelSpec.batch): Bedrock batch inference or an OpenAI-compatible
server's Batches, and for the local demo models the local stack's stand-ins of both (infra/local/batch_jobs.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from asyncinfer.domain.catalog import LOCAL, BedrockConfig, ModelRegistry, ModelSpec, OpenAIConfig
from asyncinfer.providers.batch_jobs import BatchJobs

# The stand-in checks only that a role is named, as boto3 requires one.
DEMO_ROLE_ARN = "arn:aws:iam::000000000000:role/asyncinfer-demo-batch"


@dataclass(frozen=True)
class BatchClients:
    # boto3.client("bedrock") for a provider's region (None: the function's own), or at the given endpoint.
    bedrock: Callable[[BedrockConfig | None, str | None], Any]
    s3: Callable[[], Any]
    # make dev: the stand-ins' URL (Bedrock's control plane at its root, OpenAI's protocol under /v1).
    demo_url: str | None = None


def batch_jobs(registry: ModelRegistry, spec: ModelSpec, clients: BatchClients | None) -> BatchJobs | None:
    """The model's batch jobs; None if it has none, or (a demo model) no stand-in is wired."""
    api = registry.batch_api(spec)
    if api is None or clients is None:
        return None
    config = registry.provider_config(spec)
    if spec.provider == LOCAL and clients.demo_url is None:
        return None
    if api.api == "bedrock":
        from asyncinfer.providers.bedrock_batch import BedrockBatchJobs

        if spec.provider == LOCAL:
            return BedrockBatchJobs(clients.bedrock(None, clients.demo_url), clients.s3(), DEMO_ROLE_ARN)
        assert isinstance(config, BedrockConfig) and api.role_arn is not None  # the registry checked both
        return BedrockBatchJobs(clients.bedrock(config, None), clients.s3(), api.role_arn)
    from asyncinfer.providers.openai_batch import OpenAIBatchJobs
    from asyncinfer.providers.openai_provider import client_factory

    if spec.provider == LOCAL:
        return OpenAIBatchJobs(client_factory(f"{clients.demo_url}/v1", lambda: "local", 60, 2))
    assert isinstance(config, OpenAIConfig)
    from asyncinfer.providers.factory import openai_client

    return OpenAIBatchJobs(openai_client(config))

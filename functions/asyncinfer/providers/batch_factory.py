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
    # The service role of Bedrock's jobs the stack makes; a model's `batch.role_arn` is used first.
    role_arn: str | None = None

    @classmethod
    def boto3(cls, s3: Callable[[], Any], demo_url: str | None, role_arn: str | None, config: Any) -> BatchClients:
        """Bedrock's control plane through boto3 (`config`: the deployment's botocore Config)."""
        import boto3

        def bedrock(provider: BedrockConfig | None, endpoint_url: str | None) -> Any:
            region = provider.region if provider is not None else None
            return boto3.client("bedrock", region_name=region, endpoint_url=endpoint_url, config=config)

        return cls(bedrock=bedrock, s3=s3, demo_url=demo_url, role_arn=role_arn)


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
        role = api.role_arn or clients.role_arn
        if role is None:
            raise ValueError(f"no service role for the Bedrock batch jobs of {spec.upstream}: set batch.role_arn")
        assert isinstance(config, BedrockConfig)  # the registry checked it
        return BedrockBatchJobs(clients.bedrock(config, None), clients.s3(), role)
    from asyncinfer.providers.openai_batch import OpenAIBatchJobs
    from asyncinfer.providers.openai_provider import client_factory

    if spec.provider == LOCAL:
        return OpenAIBatchJobs(client_factory(f"{clients.demo_url}/v1", lambda: "local", 60, 2))
    assert isinstance(config, OpenAIConfig)
    from asyncinfer.providers.factory import openai_client

    return OpenAIBatchJobs(openai_client(config))

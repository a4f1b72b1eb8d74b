"""Builds the AWS-backed objects a handler needs. Only handlers and the CLI call this."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import boto3
from botocore.config import Config

# Every import but boto3's is made by the factory that needs it: a function's cold start pays for its own
# objects only (the authorizer never loads the task service, the worker, the MCP SDK or the webhook client).
if TYPE_CHECKING:
    from asyncinfer.config import (
        ApiSettings,
        BatchSettings,
        RunnerLinkSettings,
        RunnerSettings,
        SealingSettings,
        SweeperSettings,
        WorkerSettings,
    )
    from asyncinfer.domain.catalog import BedrockConfig
    from asyncinfer.domain.sealing import Sealer
    from asyncinfer.executions.base import Executions
    from asyncinfer.providers.factory import Providers
    from asyncinfer.queue.lanes import Lanes
    from asyncinfer.runner.batch_jobs import BatchJobSteps
    from asyncinfer.runner.long_task import LongTaskRunner
    from asyncinfer.store.dynamodb import DynamoTaskStore
    from asyncinfer.tasks.batches import Batches
    from asyncinfer.tasks.long_slots import LongSlots
    from asyncinfer.tasks.service import TaskService
    from asyncinfer.tasks.sweeper import Sweeper
    from asyncinfer.tasks.worker import Worker

F = TypeVar("F", bound=Callable[..., Any])
_FACTORIES: list[Any] = []


def cached(factory: F) -> F:
    """A handler's factory: its object is made on first use and kept for the function instance's life.
    reset() forgets them all (tests and benchmarks, between stacks)."""
    kept = functools.cache(factory)
    _FACTORIES.append(kept)
    return kept  # type: ignore[return-value]


def reset() -> None:
    for kept in _FACTORIES:
        kept.cache_clear()


# POST /v1/files carries the file in the request: Lambda takes at most 6 MB of request (base64 included).
FILE_ROUTE_BYTES = 4 * 1024 * 1024
# A worker instance runs up to its slots' tasks at once (32 deployed), each calling the same clients: a pool of
# botocore's default 10 connections would open and drop the rest on every call
# (https://docs.aws.amazon.com/botocore/latest/reference/config.html, max_pool_connections).
POOL_CONNECTIONS = 64
CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 3},
    connect_timeout=3,
    read_timeout=20,
    max_pool_connections=POOL_CONNECTIONS,
)


# SigV4 presigned URLs: every region accepts them, and they carry an explicit X-Amz-Expires.
_S3_CONFIG = CONFIG.merge(Config(signature_version="s3v4"))


def client(service: str) -> Any:
    return boto3.client(service, config=_S3_CONFIG if service == "s3" else CONFIG)


def sealer(settings: SealingSettings) -> Sealer:
    from asyncinfer.domain.sealing import Sealer
    from asyncinfer.vault.kms import KmsDataKeys

    return Sealer(KmsDataKeys(client("kms"), settings.sealing_key_id))


def task_store(table_name: str) -> DynamoTaskStore:
    from asyncinfer.observability.spend import count_spend
    from asyncinfer.store.dynamodb import DynamoTaskStore

    store = DynamoTaskStore(client("dynamodb"), table_name)
    store.on_spend = count_spend
    return store


def task_queue(default_url: str, lane_urls: dict[str, str]) -> Lanes:
    """The tasks queue, and the priority and flex classes' queues where the deployment has them."""
    from asyncinfer.queue.lanes import Lanes
    from asyncinfer.queue.sqs import SqsQueue

    sqs = client("sqs")
    return Lanes(SqsQueue(sqs, default_url), {lane: SqsQueue(sqs, url) for lane, url in lane_urls.items()})


def sweeper(settings: SweeperSettings) -> Sweeper:
    from asyncinfer.providers.registry import load_registry
    from asyncinfer.queue.sqs import SqsQueue
    from asyncinfer.surfaces import async_api
    from asyncinfer.tasks.sweeper import Pace, Sweeper
    from asyncinfer.wiring.deliveries import announcer

    return Sweeper(
        task_store(settings.table_name),
        task_queue(settings.queue_url, settings.lane_urls()),
        after_ms=settings.orphan_after_seconds * 1000,
        executions=executions(settings),
        batch_jobs=SqsQueue(client("sqs"), settings.batch_queue_url) if settings.batch_queue_url else None,
        pace=Pace.of(settings, load_registry()),
        announce=announcer(settings),
        public_id=async_api.public_id,
    )


def task_service(settings: ApiSettings) -> TaskService:
    from asyncinfer.blobs.s3 import S3BlobStore
    from asyncinfer.domain.submission import SubmitLimits
    from asyncinfer.providers.registry import load_registry
    from asyncinfer.tasks.budgets import Budgets
    from asyncinfer.tasks.service import TaskService

    store, registry = task_store(settings.table_name), load_registry(settings.models_file)
    return TaskService(
        store=store,
        queue=task_queue(settings.queue_url, settings.lane_urls()),
        blobs=S3BlobStore(client("s3"), settings.bucket_name),
        registry=registry,
        limits=SubmitLimits(
            max_request_bytes=settings.max_request_bytes,
            inline_request_bytes=settings.inline_request_bytes,
            retention_days=settings.retention_days,
            download_url_seconds=settings.download_url_seconds,
            submits_per_window=settings.submits_per_window,
            window_seconds=settings.submit_window_seconds,
            max_inflight=settings.max_inflight_tasks,
            max_waits=settings.max_waiting_submits,
            long_tasks=settings.runner_function_arn is not None,
            local_jobs=settings.demo_video_jobs_url is not None,
        ),
        outbound=settings.outbound(),
        sealer=sealer(settings),
        executions=executions(settings),
        budgets=Budgets(store, registry),
    )


def executions(settings: RunnerLinkSettings) -> Executions | None:
    if settings.runner_function_arn is None:
        return None
    from asyncinfer.executions.lambda_durable import LambdaDurableExecutions

    return LambdaDurableExecutions(client("lambda"), settings.runner_function_arn)


def bedrock_client(config: BedrockConfig) -> Any:
    timeouts = Config(read_timeout=config.timeout_seconds, connect_timeout=5, retries={"mode": "adaptive"})
    return boto3.client("bedrock-runtime", region_name=config.region, config=timeouts)


def mcp_tool_host(servers: list, settings: WorkerSettings) -> Any:
    # Imported on first use: the MCP SDK costs about 0.3 s of cold start, which only tool tasks should pay.
    from asyncinfer.tools.mcp import McpPolicy, McpToolHost

    policy = McpPolicy(
        connect_seconds=settings.mcp_connect_seconds,
        call_seconds=settings.mcp_call_seconds,
        max_result_bytes=settings.mcp_max_result_bytes,
        outbound=settings.outbound().mcp,
    )
    return McpToolHost(servers, policy)


def providers(settings: WorkerSettings) -> Providers:
    from asyncinfer.blobs.s3 import S3BlobStore
    from asyncinfer.providers.demo.research import Pace
    from asyncinfer.providers.factory import LocalOptions, Providers
    from asyncinfer.providers.registry import load_registry

    def demo_video_jobs() -> Any:
        # The demo video model's jobs: Bedrock's calls, to the offline job service of `make dev`.
        return boto3.client("bedrock-runtime", endpoint_url=settings.demo_video_jobs_url, config=CONFIG)

    return Providers(
        load_registry(settings.models_file),
        LocalOptions(
            demo_chat_seconds=settings.demo_chat_seconds,
            demo_media_seconds=settings.demo_media_seconds,
            demo_research=Pace(settings.demo_research_steps, settings.demo_research_step_seconds),
            demo_video_jobs=demo_video_jobs,
            openai_base_url=settings.openai_base_url,
            openai_model=settings.openai_model,
        ),
        bedrock_client=bedrock_client,
        put_object=lambda key, body, content_type: S3BlobStore(client("s3"), settings.bucket_name).put(
            key, body, content_type
        ),
        object_exists=lambda key: S3BlobStore(client("s3"), settings.bucket_name).size(key) is not None,
    )


def worker(settings: WorkerSettings, models: Providers | None = None) -> Worker:
    from asyncinfer.blobs.s3 import S3BlobStore
    from asyncinfer.tasks.outcomes import WorkerConfig
    from asyncinfer.tasks.worker import Worker

    models = models or providers(settings)
    store = task_store(settings.table_name)
    return Worker(
        store=store,
        blobs=S3BlobStore(client("s3"), settings.bucket_name),
        registry=models.registry,
        provider_for=models,
        upstream_for=models.upstream,
        tool_host=lambda servers: mcp_tool_host(servers, settings),
        sealer=sealer(settings),
        executions=executions(settings),
        long_slots=long_slots(settings, store),
        config=WorkerConfig(
            flush_seconds=settings.flush_seconds,
            max_attempts=settings.max_attempts,
            inline_result_bytes=settings.inline_result_bytes,
            deadline_margin_ms=int(settings.deadline_margin_seconds * 1000),
            max_tool_steps=settings.mcp_max_steps,
        ),
    )


def long_slots(settings: WorkerSettings, store: DynamoTaskStore) -> LongSlots:
    from asyncinfer.store.dynamodb_slots import DynamoLongSlots
    from asyncinfer.tasks.long_slots import LongSlots

    return LongSlots(
        DynamoLongSlots(client("dynamodb"), settings.table_name),
        store,
        cap=settings.max_long_tasks_per_tenant,
        wait_seconds=settings.long_task_wait_seconds,
    )


def runner(settings: RunnerSettings) -> LongTaskRunner:
    from asyncinfer.runner.long_task import LongTaskRunner
    from asyncinfer.runner.steps import RunnerConfig

    def tools_for(spec: Any, servers: list) -> Any:
        if spec.tools == "demo-research":
            from asyncinfer.tools.demo_research import DemoResearchTools

            return DemoResearchTools(settings.demo_research_tool_seconds)
        return mcp_tool_host(servers, settings) if servers else None

    config = RunnerConfig(
        step_budget_ms=int(settings.step_budget_seconds * 1000),
        deadline_margin_ms=int(settings.deadline_margin_seconds * 1000),
        max_steps=settings.max_steps,
        first_poll_seconds=min(5, settings.job_poll_seconds),
        poll_seconds=settings.job_poll_seconds,
    )
    models = providers(settings)
    return LongTaskRunner(worker(settings, models), config, tools_for, models.jobs)


def batch_part_runner(settings: RunnerSettings) -> BatchJobSteps:
    """The runner's orchestration of a batch part sent up as one provider batch job."""
    from asyncinfer.providers.batch_factory import BatchClients, batch_jobs
    from asyncinfer.queue.lanes import Lanes
    from asyncinfer.queue.sqs import SqsQueue
    from asyncinfer.runner.batch_watch import PartQueues, part_steps
    from asyncinfer.store.dynamodb_records import DynamoBatchStore
    from asyncinfer.surfaces.openai_batches import public_id
    from asyncinfer.wiring.deliveries import announcer

    models = providers(settings)
    clients = BatchClients.boto3(lambda: client("s3"), settings.demo_batch_jobs_url, settings.batch_role_arn, CONFIG)
    sqs = functools.partial(SqsQueue, client("sqs"))
    items, tasks = settings.batch_items_queue_url, settings.queue_url
    lanes = Lanes(sqs(tasks), {lane: sqs(url) for lane, url in settings.lane_urls().items()}) if tasks else None
    queues = PartQueues(sqs(items) if items else None, lanes, announcer(settings))
    store = DynamoBatchStore(client("dynamodb"), settings.table_name)
    jobs_for = functools.partial(batch_jobs, models.registry, clients=clients)
    return part_steps(worker(settings, models), store, jobs_for, queues, settings, public_id)


def batches(settings: BatchSettings) -> Batches:
    from asyncinfer.blobs.s3 import object_reader
    from asyncinfer.queue.sqs import SqsQueue
    from asyncinfer.store.dynamodb_records import DynamoBatchStore
    from asyncinfer.surfaces.openai_batches import public_id
    from asyncinfer.tasks.batch_input import BatchLimits
    from asyncinfer.tasks.batches import Batches, Pace
    from asyncinfer.tasks.files import Files
    from asyncinfer.wiring.deliveries import announcer

    tasks = task_service(settings)
    return Batches(
        tasks=tasks,
        store=DynamoBatchStore(client("dynamodb"), settings.table_name),
        jobs=SqsQueue(client("sqs"), settings.batch_queue_url),
        items=task_queue(settings.queue_url, {**settings.lane_urls(), "batch": settings.batch_items_queue_url}),
        read_input=object_reader(client("s3")),
        limits=BatchLimits(
            max_items=settings.max_batch_items,
            max_input_bytes=settings.max_batch_input_bytes,
            retention_days=settings.retention_days,
            download_url_seconds=settings.download_url_seconds,
            input_buckets=tuple(settings.batch_input_buckets),
            own_bucket=settings.bucket_name,
        ),
        local_batch_jobs=settings.demo_batch_jobs_url is not None,
        pace=Pace.of(settings, tasks.registry),
        announce=announcer(settings),
        public_id=public_id,
        files=Files(
            tasks.blobs,
            max_bytes=FILE_ROUTE_BYTES,
            url_seconds=settings.download_url_seconds,
            retention_days=settings.retention_days,
        ),
    )

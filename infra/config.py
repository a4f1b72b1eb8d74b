"""Deployment configuration, read from cdk.json context and validated before anything is built."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from asyncinfer.surfaces import cors
from infra.public_api import CustomDomain, Endpoint, Firewall, VpcEndpointIds, check_endpoint

ROOT = Path(__file__).resolve().parent.parent
# The worker function's memory (infra/components/workers.py); the density bench bills its invocations at it.
MOST_SLOTS = 64
WORKER_MEMORY_MB = 1024
SECRET_ARN = re.compile(r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+$")


class TracingConfig(BaseModel):
    """Where the functions' spans go on AWS (docs/operate/tracing.md): X-Ray's OTLP endpoint, which needs the
    account's Transaction Search on. False: spans are made and dropped, and no function may send any."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    # The share of tasks traced, decided at submit for the whole task. 1: every task, so the trace of the
    # task a client asks about exists; a span costs far less than the model call it sits beside.
    sample_rate: float = Field(default=1.0, ge=0, le=1)

    def environment(self, region: str, url_suffix: str) -> dict[str, str]:
        """A function's span destination and sampling (asyncinfer.observability.exporting); none when off."""
        if not self.enabled:
            return {}
        return {
            "ASYNCINFER_TRACES_ENDPOINT": f"https://xray.{region}.{url_suffix}/v1/traces",
            "ASYNCINFER_TRACE_SAMPLE_RATE": str(self.sample_rate),
        }


class InfraConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    stage: str = Field(default="prod", pattern=r"^[a-z][a-z0-9-]{0,19}$")
    retention_days: int = Field(default=30, ge=1, le=3650)
    architecture: Literal["arm64", "x86_64"] = "arm64"
    worker_timeout_seconds: int = Field(default=300, ge=30, le=900)
    # Long tasks run on a Lambda durable function. False in a Region without durable functions: the stack
    # deploys without the runner and the API refuses long tasks at submit (`asyncinfer preflight` says so).
    long_tasks: bool = True
    # The longest one step of a long task (a model turn, a tool call) may take, under the runner's 900 s.
    runner_step_budget_seconds: int = Field(default=300, ge=10, le=840)
    # How long one long task may run in all, and how long its execution's history is kept after.
    runner_execution_days: int = Field(default=7, ge=1, le=366)
    runner_retention_days: int = Field(default=14, ge=1, le=90)
    # Long tasks of one tenant running on the runner at once, its batches' items included (0: no cap); one
    # more waits for a slot instead of failing (docs/guide/long-tasks.md).
    max_long_tasks_per_tenant: int = Field(default=10, ge=0, le=10_000)
    # The runner's reserved concurrency: at most this many of its invocations at once (an execution waiting
    # without compute holds none), and as many kept for it. null: none reserved, which any account can deploy;
    # Lambda keeps at least 100 of an account's concurrency unreserved (`asyncinfer preflight` checks).
    runner_reserved_concurrency: int | None = Field(default=None, ge=1, le=10_000)
    worker_batch_size: int = Field(default=10, ge=1, le=10)
    worker_batching_window_seconds: int = Field(default=0, ge=0, le=300)
    worker_max_concurrency: int = Field(default=20, ge=2, le=1000)
    # Worker instances for batch items (their own queue): a batch's share, whatever its size.
    batch_worker_max_concurrency: int = Field(default=5, ge=2, le=1000)
    # The priority and flex classes' lanes (worker_max_concurrency is the default class's).
    priority_worker_max_concurrency: int = Field(default=10, ge=2, le=1000)
    flex_worker_max_concurrency: int = Field(default=5, ge=2, le=1000)
    # Tasks one worker instance runs at once (its slots; it receives more messages itself as they free), per
    # lane: a lane runs at most its maximum concurrency times its slots. Memory stays 1,024 MB. At most the
    # functions' AWS clients' connection pool (asyncinfer.wiring.POOL_CONNECTIONS), so no slot waits for one.
    worker_slots: int = Field(default=32, ge=1, le=MOST_SLOTS)
    priority_worker_slots: int = Field(default=32, ge=1, le=MOST_SLOTS)
    flex_worker_slots: int = Field(default=32, ge=1, le=MOST_SLOTS)
    batch_worker_slots: int = Field(default=32, ge=1, le=MOST_SLOTS)
    max_receive_count: int = Field(default=3, ge=3, le=5)
    # A model registry (JSON, as functions/asyncinfer/models.json) relative to the project root;
    # bundled in place of the packaged one.
    models_file: str | None = None
    provider_secret_arns: list[str] = Field(default_factory=list)
    # Private hosts or CIDRs MCP servers may be on (everything private is refused otherwise).
    mcp_allowed_hosts: list[str] = Field(default_factory=list)
    # Per-tenant quotas, enforced by the API functions (0 turns one off). The request rate is the usage
    # plan's job on AWS; the table-counted submit quota costs a write per submit and is off by default.
    max_inflight_tasks: int = Field(default=1000, ge=0)
    submits_per_minute: int = Field(default=0, ge=0)
    # The sweeper runs this often and re-sends tasks CREATED longer than orphan_after_seconds ago.
    sweep_every_minutes: int = Field(default=5, ge=1, le=60)
    orphan_after_seconds: int = Field(default=600, ge=60)
    # API Gateway's per-tenant throttle (the usage plan); a daily request quota per tenant if set.
    tenant_rate_limit: float = Field(default=20, gt=0, le=10000)
    tenant_burst_limit: int = Field(default=40, ge=1, le=5000)
    tenant_daily_quota: int | None = Field(default=None, ge=1)
    api_throttle_rate: float = Field(default=50, gt=0, le=10000)
    api_throttle_burst: int = Field(default=100, ge=1, le=5000)
    authorizer_cache_seconds: int = Field(default=300, ge=0, le=3600)
    # API Gateway's CloudWatch Logs role is an account-and-region setting that a stage with access logs
    # needs. True: the stack sets it (and keeps the role when deleted). False: it is already set (preflight
    # checks) and this stack leaves it alone.
    api_gateway_cloudwatch_role: bool = True
    # Lambda Web Adapter's public layer (account 753240598075 in the commercial regions), version pinned for
    # repeatable deploys. Elsewhere (China, GovCloud) name a layer's whole ARN for your architecture.
    web_adapter_layer_version: int = Field(default=26, ge=1)
    web_adapter_layer_arn: str | None = Field(default=None, pattern=r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:layer:")
    # Batches: items per batch, and buckets (besides the stack's uploads/) input files may be read from.
    # At most 50,000: the batch record keeps a set of its ended items, within the 400 KB item limit.
    max_batch_items: int = Field(default=10_000, ge=1, le=50_000)
    batch_input_buckets: list[str] = Field(default_factory=list)
    # Scheduled batch invocations (see schedules.json), relative to the project root; null for none.
    schedules_file: str | None = "schedules.json"
    # Webhook deliveries: attempts before a delivery is recorded as failed; private receivers allowed.
    webhook_max_attempts: int = Field(default=8, ge=1, le=50)
    # After a secret rotation the previous secret still signs this long (both signatures on each delivery).
    webhook_secret_grace_seconds: int = Field(default=24 * 3600, ge=0, le=7 * 24 * 3600)
    webhook_allowed_hosts: list[str] = Field(default_factory=list)
    alarm_email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    alarm_oldest_message_seconds: int = Field(default=900, ge=60)
    tracing: TracingConfig = Field(default_factory=TracingConfig)
    # The API's own name (infra/public_api.py); none: only execute-api's.
    custom_domain: CustomDomain | None = None
    # A WAF web ACL on the stage (infra/public_api.py); off unless enabled.
    waf: Firewall = Field(default_factory=Firewall)
    # "private": the API answers only through these interface VPC endpoints (infra/public_api.py).
    endpoint: Endpoint = "regional"
    vpc_endpoint_ids: VpcEndpointIds = Field(default_factory=list)
    # Browser pages that may call the API (asyncinfer.surfaces.cors, infra/components/cors.py); none: no CORS.
    cors_origins: list[Annotated[str, Field(pattern=cors.ORIGIN, max_length=300)]] = Field(
        default_factory=list, max_length=50
    )

    @field_validator("models_file")
    @classmethod
    def _registry_is_valid(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from asyncinfer.providers.registry import load_registry

        path = ROOT / value
        if not path.is_file():
            raise ValueError(f"models_file {value!r} does not exist (paths are relative to the project root)")
        load_registry(path)  # a malformed registry fails the synth, not the first request
        return value

    @field_validator("schedules_file")
    @classmethod
    def _schedules_are_valid(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from asyncinfer.schedules import Schedules

        path = ROOT / value
        if not path.is_file():
            raise ValueError(f"schedules_file {value!r} does not exist (paths are relative to the project root)")
        Schedules.load(path)  # a malformed schedule fails the synth
        return value

    def schedules(self):
        from asyncinfer.schedules import Schedules

        return Schedules.load(ROOT / self.schedules_file) if self.schedules_file else Schedules()

    @field_validator("provider_secret_arns")
    @classmethod
    def _secret_arns(cls, value: list[str]) -> list[str]:
        for arn in value:
            if not SECRET_ARN.match(arn):
                raise ValueError(f"not a Secrets Manager secret ARN: {arn!r}")
        return value

    @model_validator(mode="after")
    def _window_needs_batches(self) -> InfraConfig:
        if self.worker_batching_window_seconds and self.worker_batch_size < 2:
            raise ValueError("a batching window only makes sense with worker_batch_size > 1")
        return self

    @model_validator(mode="after")
    def _endpoint_is_complete(self) -> InfraConfig:
        check_endpoint(self.endpoint, self.vpc_endpoint_ids, self.custom_domain)
        return self

    def registry(self):
        """The model registry the functions will run with (the configured file, else the packaged one)."""
        from asyncinfer.providers.registry import load_registry

        return load_registry(ROOT / self.models_file if self.models_file else None)

    def outbound_environment(self) -> dict[str, str]:
        """The allow-lists of MCP servers and webhook receivers, for every function that checks such URLs
        (the API functions at submit, the worker and the webhook sender at each connection)."""
        env = {}
        if self.mcp_allowed_hosts:
            env["ASYNCINFER_MCP_ALLOWED_HOSTS"] = json.dumps(self.mcp_allowed_hosts)
        if self.webhook_allowed_hosts:
            env["ASYNCINFER_WEBHOOK_ALLOWED_HOSTS"] = json.dumps(self.webhook_allowed_hosts)
        return env

    def lane_slots_environment(self) -> dict[str, str]:
        """`complete_by`'s capacity of each class's lane (asyncinfer.config.EscalationSettings): its workers' maximum
        concurrency times the tasks each instance runs at once, its slots
        (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html)."""
        lanes = {
            "DEFAULT": self.worker_max_concurrency * self.worker_slots,
            "PRIORITY": self.priority_worker_max_concurrency * self.priority_worker_slots,
            "FLEX": self.flex_worker_max_concurrency * self.flex_worker_slots,
        }
        return {f"ASYNCINFER_{lane}_LANE_SLOTS": str(slots) for lane, slots in lanes.items()}

    @classmethod
    def from_context(cls, context: dict[str, Any] | None) -> InfraConfig:
        return cls.model_validate(context or {})

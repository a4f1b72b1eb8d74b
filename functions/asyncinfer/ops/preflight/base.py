"""What every preflight check shares: its answer (ok, warn or fail, with a fix), what the stack will need
(Target), and the AWS clients and account settings of one run (Context)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from asyncinfer.ops.deployment import MIN_BOOTSTRAP_VERSION
from asyncinfer.ops.preflight.demand import Demand

if TYPE_CHECKING:
    from asyncinfer.ops.preflight.host import Host

Clients = Callable[..., Any]  # clients(service, region=None) -> a boto3 client


class Result(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class Check:
    name: str
    result: Result
    detail: str
    fix: str = ""


@dataclass(frozen=True)
class Target:
    """What the stack will need, from the deployment configuration (cdk.json) and its model registry."""

    stage: str = "prod"
    architecture: str = "arm64"
    web_adapter_layer_version: int = 26
    web_adapter_layer_arn: str | None = None
    api_gateway_cloudwatch_role: bool = True
    bedrock_models: tuple[tuple[str, str | None], ...] = ()  # (model id, region or None for the stack's)
    secret_arns: tuple[str, ...] = ()
    bootstrap_version: int = MIN_BOOTSTRAP_VERSION
    long_tasks: bool = True  # the long-task runner, a Lambda durable function
    runner_reserved_concurrency: int | None = None  # None: the runner reserves none
    tracing: bool = False  # spans to X-Ray's OTLP endpoint (cdk.json's tracing.enabled)
    custom_domain: tuple[str, str] | None = None  # (name, certificate ARN) when cdk.json gives the certificate
    hosted_zone: tuple[str, str, str] | None = None  # (name, zone id, zone name) when cdk.json gives a zone
    private_endpoints: tuple[str, ...] = ()  # the VPC endpoints of a private API (cdk.json endpoint "private")
    tools: tuple[str, ...] = field(default=("node", "npm"))
    # The project's root (cdk.json, infra/): the stack is synthesized from it to count its concurrency, and
    # its lock is checked. None: neither is checked, unless `demand` is given.
    project: Path | None = None
    demand: Demand | None = None


def error_code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


class Context:
    """The clients, region and target of one run, and the account settings read once for several checks."""

    def __init__(self, clients: Clients, region: str | None, target: Target, host: Host) -> None:
        self.clients = clients
        self.region = region
        self.target = target
        self.host = host
        self._account: dict[str, Any] | None = None

    def account_limit(self) -> dict[str, Any]:
        if self._account is None:
            self._account = self.clients("lambda").get_account_settings()["AccountLimit"]
        return self._account


def render(checks: list[Check]) -> str:
    marks = {Result.OK: "✓", Result.WARN: "!", Result.FAIL: "✗"}
    lines = []
    for check in checks:
        lines.append(f"{marks[check.result]} {check.name}: {check.detail}")
        if check.fix and check.result != Result.OK:
            lines.append(f"    fix: {check.fix}")
    failed = sum(c.result == Result.FAIL for c in checks)
    lines.append(f"not ready: {failed} of {len(checks)} checks failed" if failed else "ready to deploy")
    return "\n".join(lines)

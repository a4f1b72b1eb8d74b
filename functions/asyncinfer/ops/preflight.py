"""`asyncinfer preflight`: read-only checks, with the caller's credentials and region, of everything a first
`cdk deploy` depends on. Each check answers ok, warn or fail, and a failing one says how to fix it.

Nothing here writes: every call is a Describe/Get/List. The sources behind each check are in the README's
"Deploy to AWS" section."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

from asyncinfer.ops.deployment import (
    BOOTSTRAP_STACK,
    BOOTSTRAP_VERSION_PARAMETER,
    MIN_BOOTSTRAP_VERSION,
    web_adapter_layer_arn,
)

Clients = Callable[..., Any]  # clients(service, region=None) -> a boto3 client
# A cross-region inference profile (us.amazon.nova-lite-v1:0) names its model after a geography prefix.
_PROFILE_PREFIX = re.compile(r"^(us|eu|apac|us-gov|ca|jp|au|global)\.")
_HEALTHY_STACK = re.compile(r"^(CREATE|UPDATE|IMPORT)_COMPLETE$|^UPDATE_ROLLBACK_COMPLETE$")
# The logical id CDK gives the long-task runner's function (infra/components/runner.py; tests/infra checks it).
RUNNER_LOGICAL_ID = "RunnerFunction"


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
    worker_max_concurrency: int = 20
    bedrock_models: tuple[tuple[str, str | None], ...] = ()  # (model id, region or None for the stack's)
    secret_arns: tuple[str, ...] = ()
    bootstrap_version: int = MIN_BOOTSTRAP_VERSION
    long_tasks: bool = True  # the long-task runner, a Lambda durable function
    runner_reserved_concurrency: int | None = None  # None: the runner reserves none
    tools: tuple[str, ...] = field(default=("node", "npm"))


def _code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


class Preflight:
    def __init__(self, clients: Clients, region: str | None, target: Target, which=shutil.which) -> None:
        self._clients = clients
        self.region = region
        self.target = target
        self._which = which
        self._account: dict[str, Any] | None = None

    def run(self) -> list[Check]:
        checks: list[Check] = []
        for check in self._checks():
            checks.append(check)
            if check.result == Result.FAIL and check.name in ("credentials", "region"):
                break  # nothing else can be asked
        return checks

    def _checks(self) -> Iterator[Check]:
        yield self._region()
        yield self._credentials()
        yield self._tools()
        yield self._bootstrap()
        yield self._existing_stack()
        yield self._api_gateway_logging_role()
        yield self._web_adapter_layer()
        yield self._concurrency()
        yield self._runner_concurrency()
        yield self._long_tasks()
        for model, region in self.target.bedrock_models:
            yield self._bedrock_model(model, region)
        for arn in self.target.secret_arns:
            yield self._secret(arn)

    def _region(self) -> Check:
        if not self.region:
            return Check(
                "region", Result.FAIL, "no region is set", "export AWS_REGION=<region> (or AWS_DEFAULT_REGION)"
            )
        return Check("region", Result.OK, self.region)

    def _credentials(self) -> Check:
        try:
            who = self._clients("sts").get_caller_identity()
        except (NoCredentialsError, NoRegionError, ClientError, BotoCoreError) as exc:
            return Check(
                "credentials",
                Result.FAIL,
                f"no usable AWS credentials: {exc}",
                "configure credentials (aws configure sso, AWS_PROFILE, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)",
            )
        return Check("credentials", Result.OK, f"account {who['Account']} as {who['Arn']}")

    def _tools(self) -> Check:
        missing = [tool for tool in self.target.tools if not self._which(tool)]
        if missing:
            return Check(
                "node and npm",
                Result.FAIL,
                f"not on PATH: {', '.join(missing)} (the CDK CLI runs on Node.js)",
                "install Node.js 20 or newer with npm",
            )
        return Check("node and npm", Result.OK, "on PATH (the CDK CLI is pinned in package.json)")

    def _bootstrap(self) -> Check:
        fix = "make bootstrap (npx cdk bootstrap) once in this account and region"
        try:
            (stack,) = self._clients("cloudformation").describe_stacks(StackName=BOOTSTRAP_STACK)["Stacks"]
        except ClientError as exc:
            if _code(exc) == "ValidationError":
                return Check("CDK bootstrap", Result.FAIL, f"no {BOOTSTRAP_STACK} stack in {self.region}", fix)
            raise
        if not _HEALTHY_STACK.match(stack["StackStatus"]):
            return Check("CDK bootstrap", Result.FAIL, f"{BOOTSTRAP_STACK} is {stack['StackStatus']}", fix)
        try:
            value = self._clients("ssm").get_parameter(Name=BOOTSTRAP_VERSION_PARAMETER)["Parameter"]["Value"]
        except ClientError as exc:
            if _code(exc) != "ParameterNotFound":
                raise
            value = "0"
        if int(value) < self.target.bootstrap_version:
            return Check(
                "CDK bootstrap",
                Result.FAIL,
                f"bootstrap version {value}, the stack needs {self.target.bootstrap_version} or newer",
                "make bootstrap (upgrades the bootstrap stack in place)",
            )
        return Check("CDK bootstrap", Result.OK, f"{BOOTSTRAP_STACK} version {value}")

    def _existing_stack(self) -> Check:
        name = f"asyncinfer-{self.target.stage}"
        try:
            (stack,) = self._clients("cloudformation").describe_stacks(StackName=name)["Stacks"]
        except ClientError as exc:
            if _code(exc) == "ValidationError":
                return Check("stack", Result.OK, f"{name} does not exist yet: a first deploy")
            raise
        status = stack["StackStatus"]
        if status == "ROLLBACK_COMPLETE" or status.endswith("_FAILED"):
            return Check(
                "stack",
                Result.FAIL,
                f"{name} is {status}: a failed first deploy, which CloudFormation cannot update",
                f"aws cloudformation delete-stack --stack-name {name} (see README: a failed first deploy)",
            )
        if status.endswith("_IN_PROGRESS"):
            return Check("stack", Result.FAIL, f"{name} is {status}", "wait for it to finish, then deploy")
        return Check("stack", Result.OK, f"{name} exists ({status}): the deploy updates it")

    def _api_gateway_logging_role(self) -> Check:
        name = "API Gateway logging role"
        arn = self._clients("apigateway").get_account().get("cloudwatchRoleArn")
        if self.target.api_gateway_cloudwatch_role:
            if arn:
                return Check(
                    name,
                    Result.WARN,
                    f"the account already logs through {arn}; the stack will set its own role instead (kept "
                    "when the stack is deleted)",
                    "to keep yours, set api_gateway_cloudwatch_role to false in cdk.json",
                )
            return Check(name, Result.OK, "none set yet; the stack creates it (kept when the stack is deleted)")
        fix = "set api_gateway_cloudwatch_role to true in cdk.json, or set the role in API Gateway's settings"
        if not arn:
            return Check(name, Result.FAIL, "none set, and cdk.json says the stack must not set it", fix)
        try:
            self._clients("iam").get_role(RoleName=arn.rpartition("/")[2])
        except ClientError as exc:
            if _code(exc) != "NoSuchEntity":
                raise
            return Check(name, Result.FAIL, f"{arn} is set but the role no longer exists", fix)
        return Check(name, Result.OK, f"{arn}")

    def _web_adapter_layer(self) -> Check:
        t = self.target
        arn = web_adapter_layer_arn(
            self.region or "", t.architecture, t.web_adapter_layer_version, t.web_adapter_layer_arn
        )
        try:
            layer = self._clients("lambda").get_layer_version_by_arn(Arn=arn)
        except ClientError as exc:
            return Check(
                "Web Adapter layer",
                Result.FAIL,
                f"{arn} cannot be read here ({_code(exc)})",
                "set web_adapter_layer_arn in cdk.json to a Lambda Web Adapter layer published in this region",
            )
        runtimes = layer.get("CompatibleArchitectures") or [t.architecture]
        if t.architecture not in runtimes:
            return Check("Web Adapter layer", Result.FAIL, f"{arn} is for {runtimes}, not {t.architecture}", "")
        return Check("Web Adapter layer", Result.OK, arn)

    def _account_limit(self) -> dict[str, Any]:
        if self._account is None:
            self._account = self._clients("lambda").get_account_settings()["AccountLimit"]
        return self._account

    def _concurrency(self) -> Check:
        limit = self._account_limit()["ConcurrentExecutions"]
        wanted = self.target.worker_max_concurrency + 10
        if limit < wanted:
            return Check(
                "Lambda concurrency",
                Result.WARN,
                f"the account may run {limit} functions at once; the worker alone may use "
                f"{self.target.worker_max_concurrency}, and the API and stream functions need room beside it",
                "request a higher 'Concurrent executions' quota in Service Quotas, or lower worker_max_concurrency",
            )
        return Check("Lambda concurrency", Result.OK, f"{limit} concurrent executions in the account")

    def _runner_concurrency(self) -> Check:
        """Reserved concurrency is taken from the account's unreserved pool, of which Lambda keeps at least 100
        (https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html); new accounts start
        with a low quota (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html)."""
        name = "runner concurrency"
        reserve = self.target.runner_reserved_concurrency
        if not self.target.long_tasks or reserve is None:
            return Check(
                name,
                Result.OK,
                "none reserved (runner_reserved_concurrency null): the runner, if any, shares the unreserved pool, "
                "and each tenant's long tasks are capped (max_long_tasks_per_tenant)",
            )
        account = self._account_limit()
        # On an update, what the deployed runner reserves now is out of the pool and comes back to it.
        unreserved = account.get("UnreservedConcurrentExecutions", account["ConcurrentExecutions"])
        unreserved += self._runner_reserved_now()
        left = unreserved - reserve
        if left < 100:
            return Check(
                name,
                Result.FAIL,
                f"reserving {reserve} for the runner would leave {left} of the account's {unreserved} unreserved "
                "concurrent executions; Lambda keeps at least 100 unreserved (the deploy would fail)",
                f"request a 'Concurrent executions' quota of at least {account['ConcurrentExecutions'] - left + 100} "
                "in Service Quotas, or lower runner_reserved_concurrency in cdk.json (null: none reserved)",
            )
        return Check(name, Result.OK, f"{reserve} reserved for the runner, {left} of {unreserved} left unreserved")

    def _runner_reserved_now(self) -> int:
        try:
            resources = self._clients("cloudformation").describe_stack_resources(
                StackName=f"asyncinfer-{self.target.stage}"
            )["StackResources"]
        except ClientError as exc:
            if _code(exc) == "ValidationError":
                return 0  # a first deploy
            raise
        runner = [
            r["PhysicalResourceId"]
            for r in resources
            if r["ResourceType"] == "AWS::Lambda::Function" and r["LogicalResourceId"].startswith(RUNNER_LOGICAL_ID)
        ]
        found = self._clients("lambda").get_function_concurrency(FunctionName=runner[0]) if runner else {}
        return int(found.get("ReservedConcurrentExecutions") or 0)

    def _long_tasks(self) -> Check:
        """Durable functions answer for a function that does not exist with ResourceNotFoundException; a
        Region without them has no such API."""
        name = "long tasks (durable functions)"
        if not self.target.long_tasks:
            return Check(name, Result.OK, "off (long_tasks false): long tasks are refused at submit")
        try:
            self._clients("lambda").list_durable_executions_by_function(FunctionName="asyncinfer-preflight-probe")
        except ClientError as exc:
            if _code(exc) == "ResourceNotFoundException":
                return Check(name, Result.OK, "Lambda durable functions answer in this region")
            detail = f"Lambda durable functions do not answer in this region ({_code(exc) or exc})"
        except BotoCoreError as exc:
            detail = f"Lambda durable functions do not answer in this region ({type(exc).__name__})"
        else:
            return Check(name, Result.OK, "Lambda durable functions answer in this region")
        fix = 'set "long_tasks": false in cdk.json: the stack deploys without the runner and refuses long tasks'
        return Check(name, Result.FAIL, detail, fix)

    def _bedrock_model(self, model: str, region: str | None) -> Check:
        name = f"Bedrock {model}"
        base = _PROFILE_PREFIX.sub("", model)
        try:
            found = self._clients("bedrock", region).get_foundation_model_availability(modelId=base)
        except ClientError as exc:
            return Check(name, Result.FAIL, f"not available in {region or self.region}: {_code(exc)}", "")
        problems = [
            what
            for what, ok in (
                ("not offered in this region", found.get("regionAvailability") == "AVAILABLE"),
                ("not authorized for this account", found.get("authorizationStatus") == "AUTHORIZED"),
                ("no entitlement", found.get("entitlementAvailability") == "AVAILABLE"),
                ("its agreement is not accepted", found.get("agreementAvailability", {}).get("status") == "AVAILABLE"),
            )
            if not ok
        ]
        if problems:
            return Check(
                name,
                Result.FAIL,
                "; ".join(problems),
                "open the model in the Bedrock console (Model catalog) and accept its terms or submit the use "
                "case it asks for; or use a region that offers it",
            )
        return Check(name, Result.OK, f"available in {region or self.region}")

    def _secret(self, arn: str) -> Check:
        region = arn.split(":")[3]
        try:
            self._clients("secretsmanager", region).describe_secret(SecretId=arn)
        except ClientError as exc:
            return Check(
                f"secret {arn.rpartition(':')[2]}",
                Result.FAIL,
                f"{arn}: {_code(exc)}",
                "create it (aws secretsmanager create-secret ...) or fix the ARN in cdk.json or the registry",
            )
        return Check(f"secret {arn.rpartition(':')[2]}", Result.OK, "present")


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

"""The account and region a deploy goes to: credentials, the CDK bootstrap, a stack already there, API
Gateway's logging role, the Web Adapter layer, and the secrets the registry names."""

from __future__ import annotations

import re

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

from asyncinfer.ops.deployment import BOOTSTRAP_STACK, BOOTSTRAP_VERSION_PARAMETER, web_adapter_layer_arn
from asyncinfer.ops.preflight.base import Check, Context, Result, error_code

_HEALTHY_STACK = re.compile(r"^(CREATE|UPDATE|IMPORT)_COMPLETE$|^UPDATE_ROLLBACK_COMPLETE$")


def region(ctx: Context) -> Check:
    if not ctx.region:
        return Check("region", Result.FAIL, "no region is set", "export AWS_REGION=<region> (or AWS_DEFAULT_REGION)")
    return Check("region", Result.OK, ctx.region)


def credentials(ctx: Context) -> Check:
    try:
        who = ctx.clients("sts").get_caller_identity()
    except (NoCredentialsError, NoRegionError, ClientError, BotoCoreError) as exc:
        return Check(
            "credentials",
            Result.FAIL,
            f"no usable AWS credentials: {exc}",
            "configure credentials (aws configure sso, AWS_PROFILE, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)",
        )
    return Check("credentials", Result.OK, f"account {who['Account']} as {who['Arn']}")


def bootstrap(ctx: Context) -> Check:
    fix = "make bootstrap (npx cdk bootstrap) once in this account and region"
    try:
        (stack,) = ctx.clients("cloudformation").describe_stacks(StackName=BOOTSTRAP_STACK)["Stacks"]
    except ClientError as exc:
        if error_code(exc) == "ValidationError":
            return Check("CDK bootstrap", Result.FAIL, f"no {BOOTSTRAP_STACK} stack in {ctx.region}", fix)
        raise
    if not _HEALTHY_STACK.match(stack["StackStatus"]):
        return Check("CDK bootstrap", Result.FAIL, f"{BOOTSTRAP_STACK} is {stack['StackStatus']}", fix)
    try:
        value = ctx.clients("ssm").get_parameter(Name=BOOTSTRAP_VERSION_PARAMETER)["Parameter"]["Value"]
    except ClientError as exc:
        if error_code(exc) != "ParameterNotFound":
            raise
        value = "0"
    if int(value) < ctx.target.bootstrap_version:
        return Check(
            "CDK bootstrap",
            Result.FAIL,
            f"bootstrap version {value}, the stack needs {ctx.target.bootstrap_version} or newer",
            "make bootstrap (upgrades the bootstrap stack in place)",
        )
    return Check("CDK bootstrap", Result.OK, f"{BOOTSTRAP_STACK} version {value}")


def existing_stack(ctx: Context) -> Check:
    name = f"asyncinfer-{ctx.target.stage}"
    try:
        (stack,) = ctx.clients("cloudformation").describe_stacks(StackName=name)["Stacks"]
    except ClientError as exc:
        if error_code(exc) == "ValidationError":
            return Check("stack", Result.OK, f"{name} does not exist yet: a first deploy")
        raise
    status = stack["StackStatus"]
    if status == "ROLLBACK_COMPLETE" or status.endswith("_FAILED"):
        return Check(
            "stack",
            Result.FAIL,
            f"{name} is {status}: a failed first deploy, which CloudFormation cannot update",
            f"aws cloudformation delete-stack --stack-name {name} (see docs/operate/deploy.md: a failed first deploy)",
        )
    if status.endswith("_IN_PROGRESS"):
        return Check("stack", Result.FAIL, f"{name} is {status}", "wait for it to finish, then deploy")
    return Check("stack", Result.OK, f"{name} exists ({status}): the deploy updates it")


def api_gateway_logging_role(ctx: Context) -> Check:
    name = "API Gateway logging role"
    arn = ctx.clients("apigateway").get_account().get("cloudwatchRoleArn")
    if ctx.target.api_gateway_cloudwatch_role:
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
        ctx.clients("iam").get_role(RoleName=arn.rpartition("/")[2])
    except ClientError as exc:
        if error_code(exc) != "NoSuchEntity":
            raise
        return Check(name, Result.FAIL, f"{arn} is set but the role no longer exists", fix)
    return Check(name, Result.OK, f"{arn}")


def web_adapter_layer(ctx: Context) -> Check:
    t = ctx.target
    arn = web_adapter_layer_arn(ctx.region or "", t.architecture, t.web_adapter_layer_version, t.web_adapter_layer_arn)
    try:
        layer = ctx.clients("lambda").get_layer_version_by_arn(Arn=arn)
    except ClientError as exc:
        return Check(
            "Web Adapter layer",
            Result.FAIL,
            f"{arn} cannot be read here ({error_code(exc)})",
            "set web_adapter_layer_arn in cdk.json to a Lambda Web Adapter layer published in this region",
        )
    runtimes = layer.get("CompatibleArchitectures") or [t.architecture]
    if t.architecture not in runtimes:
        return Check("Web Adapter layer", Result.FAIL, f"{arn} is for {runtimes}, not {t.architecture}", "")
    return Check("Web Adapter layer", Result.OK, arn)


def secret(ctx: Context, arn: str) -> Check:
    region = arn.split(":")[3]
    try:
        ctx.clients("secretsmanager", region).describe_secret(SecretId=arn)
    except ClientError as exc:
        return Check(
            f"secret {arn.rpartition(':')[2]}",
            Result.FAIL,
            f"{arn}: {error_code(exc)}",
            "create it (aws secretsmanager create-secret ...) or fix the ARN in cdk.json or the registry",
        )
    return Check(f"secret {arn.rpartition(':')[2]}", Result.OK, "present")


def trace_destination(ctx: Context) -> Check:
    """X-Ray's OTLP endpoint keeps spans only where Transaction Search is on, that is where the account's trace
    segments go to CloudWatch Logs (GetTraceSegmentDestination); the stack leaves that account-wide setting to
    its owner (docs/operate/tracing.md)."""
    name = "tracing (Transaction Search)"
    fix = (
        "enable Transaction Search once in this account and region (CloudWatch console, Application Signals, "
        "Transaction Search; or aws xray update-trace-segment-destination --destination CloudWatchLogs), or set "
        "tracing.enabled to false in cdk.json"
    )
    try:
        answer = ctx.clients("xray").get_trace_segment_destination()
    except ClientError as exc:
        return Check(name, Result.WARN, f"the trace destination cannot be read here ({error_code(exc)})", fix)
    destination, status = answer.get("Destination"), answer.get("Status")
    if destination != "CloudWatchLogs":
        return Check(name, Result.WARN, f"off: segments go to {destination}, so the functions' spans are refused", fix)
    if status != "ACTIVE":
        return Check(name, Result.WARN, f"being turned on ({status}): spans are kept once it is ACTIVE", "")
    return Check(name, Result.OK, "on: spans land in the log group aws/spans")


def certificate(ctx: Context, name: str, arn: str) -> Check:
    """The custom domain's certificate: in the API's region (a regional domain takes no other,
    https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-regional-api-custom-domain-create.html),
    issued, and covering the name, itself or by a wildcard of its parent."""
    check = f"certificate for {name}"
    region = arn.split(":")[3]
    if ctx.region and region != ctx.region:
        fix = f"request or import a certificate for {name} in {ctx.region}, and name it in cdk.json's custom_domain"
        return Check(check, Result.FAIL, f"{arn} is in {region}; the API is regional in {ctx.region}", fix)
    try:
        found = ctx.clients("acm", region).describe_certificate(CertificateArn=arn)["Certificate"]
    except ClientError as exc:
        return Check(check, Result.FAIL, f"{arn}: {error_code(exc)}", "fix the ARN in cdk.json's custom_domain")
    status = found.get("Status")
    if status != "ISSUED":
        fix = "add its DNS validation records (aws acm describe-certificate shows them)"
        return Check(check, Result.FAIL, f"{status}, not ISSUED", fix if status == "PENDING_VALIDATION" else "")
    names = {found.get("DomainName"), *found.get("SubjectAlternativeNames", [])}
    if name not in names and f"*.{name.partition('.')[2]}" not in names:
        covered = ", ".join(sorted(n for n in names if n))
        return Check(check, Result.FAIL, f"covers {covered}, not {name}", "use a certificate that names it")
    return Check(check, Result.OK, f"issued, covers {name}, in {region}")


def private_api(ctx: Context) -> Check:
    """A private API answers only from inside its VPC, through a VPC endpoint its policy names
    (https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-private-api-test-invoke-url.html):
    `asyncinfer smoke` has to run there. Nothing to ask AWS; the line says how."""
    t, region = ctx.target, ctx.region or "{region}"
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    url = f"https://{{api-id}}-{t.private_endpoints[0]}.execute-api.{region}.{suffix}/{t.stage}/"
    return Check(
        "private API",
        Result.OK,
        f"it answers only through {', '.join(t.private_endpoints)}: run `asyncinfer smoke` on a host inside the VPC "
        f"that reaches one of them, with --url {url} (the stack's ApiUrlVpce... outputs; ApiUrl too where the "
        "endpoint has private DNS on)",
    )


def hosted_zone(ctx: Context, name: str, zone_id: str, zone_name: str) -> Check:
    """The Route 53 zone of cdk.json's custom_domain: there, of that name, and public, since ACM validates the
    certificate, and clients find the API, through public DNS
    (https://docs.aws.amazon.com/acm/latest/userguide/dns-validation.html)."""
    check = f"hosted zone for {name}"
    fix = "fix hosted_zone_id and hosted_zone_name in cdk.json's custom_domain (aws route53 list-hosted-zones)"
    try:
        zone = ctx.clients("route53").get_hosted_zone(Id=zone_id)["HostedZone"]
    except ClientError as exc:
        return Check(check, Result.FAIL, f"{zone_id}: {error_code(exc)}", fix)
    found = zone.get("Name", "").rstrip(".")
    if found != zone_name:
        return Check(check, Result.FAIL, f"{zone_id} is {found}, not {zone_name}", fix)
    if zone.get("Config", {}).get("PrivateZone"):
        fix = "name a public zone: ACM and the API's clients resolve the names through public DNS"
        return Check(check, Result.FAIL, f"{zone_id} ({zone_name}) is a private zone", fix)
    return Check(check, Result.OK, f"public zone {zone_name} ({zone_id}): the stack adds the validation and alias")


def vpc_endpoints(ctx: Context, ids: tuple[str, ...]) -> Check:
    """A private API's interface endpoints: there, in the region, for execute-api, and available
    (https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-private-apis.html)."""
    check = "VPC endpoints"
    fix = "create an interface endpoint for com.amazonaws.<region>.execute-api, and name it in vpc_endpoint_ids"
    try:
        found = ctx.clients("ec2").describe_vpc_endpoints(VpcEndpointIds=list(ids))["VpcEndpoints"]
    except ClientError as exc:
        return Check(check, Result.FAIL, f"{', '.join(ids)}: {error_code(exc)}", fix)
    missing = sorted(set(ids) - {e["VpcEndpointId"] for e in found})
    if missing:
        return Check(check, Result.FAIL, f"not found in {ctx.region}: {', '.join(missing)}", fix)
    wrong = [e["VpcEndpointId"] for e in found if not str(e.get("ServiceName", "")).endswith(".execute-api")]
    if wrong or any(e.get("VpcEndpointType") != "Interface" for e in found):
        return Check(check, Result.FAIL, f"not interface endpoints for execute-api: {', '.join(wrong)}", fix)
    waiting = [f"{e['VpcEndpointId']} ({e.get('State')})" for e in found if e.get("State", "").lower() != "available"]
    if waiting:
        return Check(check, Result.WARN, f"not available yet: {', '.join(waiting)}", "")
    dns = sum(bool(e.get("PrivateDnsEnabled")) for e in found)
    return Check(check, Result.OK, f"{len(found)} for execute-api, available; private DNS on for {dns}")

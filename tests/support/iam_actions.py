"""The IAM authorizations an AWS call needs: the action, and the resource IAM authorizes it on, from the call's
parameters (https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html).
ARNs are given the account and region of the template's pseudo parameters as tests/infra/iam.py resolves them."""

from __future__ import annotations

import re

ACCOUNT = "000000000000"
REGION = "us-east-1"
# The local durable service names an execution by its ids alone; on AWS its ARN extends the runner version's.
LOCAL_EXECUTION = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:asyncinfer-runner:1/durable-execution/"


# IAM's name for an operation where it is not the operation's own.
ACTIONS = {
    ("s3", "HeadObject"): "GetObject",
    ("s3", "HeadBucket"): "ListBucket",
    ("s3", "ListObjectsV2"): "ListBucket",
    ("s3", "ListObjects"): "ListBucket",
    ("s3", "DeleteObjects"): "DeleteObject",
    ("s3", "CopyObject"): "PutObject",
    ("s3", "CreateMultipartUpload"): "PutObject",
    ("s3", "UploadPart"): "PutObject",
    ("s3", "CompleteMultipartUpload"): "PutObject",
    ("s3", "ListParts"): "ListMultipartUploadParts",
    ("lambda", "Invoke"): "InvokeFunction",
    ("sqs", "SendMessageBatch"): "SendMessage",
    ("sqs", "DeleteMessageBatch"): "DeleteMessage",
    ("sqs", "ChangeMessageVisibilityBatch"): "ChangeMessageVisibility",
    # https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_StartAsyncInvoke.html (and Converse's)
    ("bedrock-runtime", "Converse"): "InvokeModel",
    ("bedrock-runtime", "ConverseStream"): "InvokeModelWithResponseStream",
    ("bedrock-runtime", "StartAsyncInvoke"): "InvokeModel",
}
TRANSACT = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem"}
WRITES = {"PutItem", "UpdateItem", "DeleteItem"}
# Words of DynamoDB's expressions that are not attribute names.
_NOT_NAMES = {"SET", "REMOVE", "ADD", "DELETE", "AND", "OR", "NOT", "BETWEEN", "IN", "if_not_exists", "list_append"}
_NOT_NAMES |= {"attribute_exists", "attribute_not_exists", "attribute_type", "begins_with", "contains", "size"}


def arn(value: str) -> str:
    """The ARN with the recorded account (S3's, which names none, unchanged)."""
    parts = value.split(":", 5)
    if len(parts) == 6 and parts[4]:
        parts[4] = ACCOUNT
    return ":".join(parts)


def function_arn(name: str, region: str = REGION) -> str:
    if name.startswith("arn:"):
        return arn(name)
    if ":function:" in name:  # a partial ARN: ACCOUNT:function:NAME[:QUALIFIER]
        return arn(f"arn:aws:lambda:{region}:{name}")
    return f"arn:aws:lambda:{region}:{ACCOUNT}:function:{name}"


def _lambda(params: dict, region: str) -> str:
    if "DurableExecutionArn" in params:
        execution = params["DurableExecutionArn"]
        return arn(execution) if execution.startswith("arn:") else LOCAL_EXECUTION + execution
    target = function_arn(params["FunctionName"], region)
    return f"{target}:{params['Qualifier']}" if params.get("Qualifier") else target


def _dynamodb(operation: str, params: dict, region: str) -> list[tuple[str, str]]:
    def table(name: str, index: str | None = None) -> str:
        found = arn(name) if name.startswith("arn:") else f"arn:aws:dynamodb:{region}:{ACCOUNT}:table/{name}"
        return f"{found}/index/{index}" if index else found

    if operation in ("TransactWriteItems", "TransactGetItems"):
        items = [next(iter(item.items())) for item in params["TransactItems"]]
        return [(f"dynamodb:{TRANSACT.get(kind, 'GetItem')}", table(request["TableName"])) for kind, request in items]
    if operation in ("BatchWriteItem", "BatchGetItem"):
        return [(f"dynamodb:{operation}", table(name)) for name in params["RequestItems"]]
    return [(f"dynamodb:{operation}", table(params["TableName"], params.get("IndexName")))]


def _s3(operation: str, params: dict) -> list[tuple[str, str]]:
    action = f"s3:{ACTIONS.get(('s3', operation), operation)}"
    bucket = f"arn:aws:s3:::{params['Bucket']}"
    if operation == "DeleteObjects":
        return [(action, f"{bucket}/{o['Key']}") for o in params["Delete"]["Objects"]]
    found = [(action, f"{bucket}/{params['Key']}" if "Key" in params else bucket)]
    if operation == "CopyObject":
        source = params["CopySource"]
        source = f"{source['Bucket']}/{source['Key']}" if isinstance(source, dict) else source.split("?")[0]
        found.append(("s3:GetObject", f"arn:aws:s3:::{source.lstrip('/')}"))
    return found


def _kms(params: dict, region: str) -> str | None:
    key = params.get("KeyId")
    if not key:
        return None
    if key.startswith("arn:"):
        return arn(key)
    return f"arn:aws:kms:{region}:{ACCOUNT}:{key if key.startswith('alias/') else f'key/{key}'}"


def _bedrock(params: dict, region: str) -> str | None:
    if "invocationArn" in params:
        return arn(params["invocationArn"])
    model = params.get("modelId")
    if not model:
        return None
    if model.startswith("arn:"):
        return arn(model)
    if model.split(".", 1)[0] in ("us", "eu", "apac", "jp", "au", "ca", "us-gov", "global"):
        return f"arn:aws:bedrock:{region}:{ACCOUNT}:inference-profile/{model}"
    return f"arn:aws:bedrock:{region}::foundation-model/{model}"


def authorizations(
    service: str, prefix: str, operation: str, params: dict, region: str
) -> list[tuple[str, str | None]]:
    """(IAM action, resource) of each authorization a call needs. `service` is botocore's endpoint prefix,
    `prefix` IAM's (the signing name)."""
    if service == "dynamodb":
        return _dynamodb(operation, params, region)  # type: ignore[return-value]
    if service == "s3":
        return _s3(operation, params)  # type: ignore[return-value]
    action = f"{prefix}:{ACTIONS.get((service, operation), operation)}"
    if service == "lambda" and ("FunctionName" in params or "DurableExecutionArn" in params):
        return [(action, _lambda(params, region))]
    if service == "sqs" and ("QueueUrl" in params or "QueueName" in params):
        name = params.get("QueueName") or params["QueueUrl"].rstrip("/").rsplit("/", 1)[1]
        return [(action, f"arn:aws:sqs:{region}:{ACCOUNT}:{name}")]
    if service == "kms":
        return [(action, _kms(params, region))]
    if service == "bedrock-runtime":
        return [(action, _bedrock(params, region))]
    return [(action, None)]


def named(request: dict) -> frozenset[str]:
    """The attributes a write names: its item's and its expressions' (more than IAM may count, never fewer)."""
    names = set(request.get("Item", {})) | set(request.get("ExpressionAttributeNames", {}).values())
    for expression in (request.get("UpdateExpression", ""), request.get("ConditionExpression", "")):
        names |= {w for w in re.findall(r"(?<![:#\w])[A-Za-z_]\w*", expression) if w not in _NOT_NAMES}
    return frozenset(names)


def writes_of(operation: str, params: dict) -> list[tuple[str, str, frozenset[str]]]:
    """(IAM action, partition key, attribute names) of each item a DynamoDB call writes."""
    if operation == "TransactWriteItems":
        items = [next(iter(item.items())) for item in params["TransactItems"]]
        requests = [(TRANSACT[kind], request) for kind, request in items if TRANSACT[kind] in WRITES]
    else:
        requests = [(operation, params)] if operation in WRITES else []
    return [(f"dynamodb:{action}", (r.get("Item") or r["Key"])["pk"]["S"], named(r)) for action, r in requests]

"""Whether a synthesized role allows a recorded call (tests/support/aws_calls.py): an Allow statement whose
actions and resources match it, IAM's wildcards (`*` any characters, `/` and `:` included; `?` one) and no
unconditional Deny; a write to the table also passes the role's conditional denials (helpers.denied).
The template's Ref, Fn::GetAtt and Fn::Join are resolved to the names the local stack gives its resources:
`<prefix>-tasks` (the table), `<prefix>-<queue>`, `<prefix>-outputs`, `asyncinfer-<function>`, whatever the
prefix (`test` in process, `asyncinfer-dev` in a local stack)."""

from __future__ import annotations

import re

from asyncinfer.routes import HANDLERS
from infra.components.queues import _IDS as QUEUE_IDS
from tests.infra.helpers import as_list, denied, deployed_handler, functions_by_handler, policy_statements_of
from tests.support.aws_calls import Call, Write
from tests.support.iam_actions import ACCOUNT, REGION, function_arn

PSEUDO = {"AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"}
PREFIX = r"[a-z0-9-]+"  # the local stack's names' prefix
NOTHING = r"(?!)"  # what the local stack has no counterpart of
_QUEUES = {construct: name for name, construct in QUEUE_IDS.items()}


def iam_pattern(text: str) -> str:
    """A policy's string (with IAM's wildcards) as a regular expression."""
    return "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text)


def pattern(value, resources) -> str:
    """A statement's resource as a regular expression over the local stack's ARNs."""
    if isinstance(value, str):
        return iam_pattern(value)
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return re.escape(separator).join(pattern(part, resources) for part in parts)
    if "Ref" in value and value["Ref"] in PSEUDO:
        return re.escape(PSEUDO[value["Ref"]])
    if "Ref" in value or "Fn::GetAtt" in value:
        ref, attribute = (value["Ref"], "Ref") if "Ref" in value else value["Fn::GetAtt"]
        return _local(resources, ref, attribute)
    return NOTHING


def _local(resources, ref: str, attribute: str) -> str:
    kind, properties = resources[ref]["Type"], resources[ref].get("Properties", {})
    service = f"{REGION}:{ACCOUNT}"
    if kind == "AWS::Lambda::Function":
        name = "asyncinfer-" + {deployed_handler(f): f for f in HANDLERS}[properties["Handler"]]
        return re.escape(name if attribute == "Ref" else function_arn(name))
    if kind in ("AWS::Lambda::Alias", "AWS::Lambda::Version") and attribute == "Ref":
        function = pattern(properties["FunctionName"], resources)
        function = (
            function if function.startswith("arn") else re.escape(f"arn:aws:lambda:{service}:function:") + function
        )
        return function + (re.escape(f":{properties['Name']}") if kind == "AWS::Lambda::Alias" else r":[0-9]+")
    if kind in ("AWS::DynamoDB::GlobalTable", "AWS::DynamoDB::Table"):
        table = f"{PREFIX}-tasks"
        return {"Ref": table, "Arn": re.escape(f"arn:aws:dynamodb:{service}:table/") + table}.get(
            attribute, re.escape(f"arn:aws:dynamodb:{service}:table/") + table + "/stream/.*"
        )
    if kind == "AWS::SQS::Queue" and (found := re.fullmatch(r"Queues([A-Za-z]+)[0-9A-F]{8}", ref)):
        if found.group(1) not in _QUEUES:
            return NOTHING
        name = f"{PREFIX}-{re.escape(_QUEUES[found.group(1)])}"
        return {"Arn": re.escape(f"arn:aws:sqs:{service}:") + name, "QueueName": name}.get(attribute, ".*/" + name)
    if kind == "AWS::S3::Bucket" and ref.startswith("StorageOutputs"):
        return (re.escape("arn:aws:s3:::") if attribute == "Arn" else "") + f"{PREFIX}-outputs"
    if kind == "AWS::KMS::Key" and ref.startswith("StorageSealingKey") and attribute == "Arn":
        return re.escape(f"arn:aws:kms:{service}:key/") + "[0-9a-f-]+"
    return NOTHING


def _matches(patterns, value: str, resources, *, action: bool = False) -> bool:
    for p in as_list(patterns):
        regex = iam_pattern(p) if action else pattern(p, resources)
        if re.fullmatch(regex, value, flags=re.IGNORECASE if action else 0):
            return True
    return False


def statements_of(resources, function: str) -> list:
    return policy_statements_of(resources, functions_by_handler(resources)[deployed_handler(function)][0])


def allowed(resources, call: Call) -> bool:
    """An Allow matches the call's action and resource (any resource when the request names none) and no
    unconditional Deny does. Conditions on an Allow are not evaluated."""

    def applies(statement) -> bool:
        if not _matches(statement["Action"], call.action, resources, action=True):
            return False
        return call.resource is None or _matches(statement["Resource"], call.resource, resources)

    statements = statements_of(resources, call.function)
    if any(s["Effect"] == "Deny" and "Condition" not in s and applies(s) for s in statements):
        return False
    return any(s["Effect"] == "Allow" and applies(s) for s in statements)


def refusals(resources, calls: set[Call], writes: set[Write]) -> list[str]:
    """One line for each recorded call the function's role would refuse, and each write its denials refuse."""
    lines = [
        f"{c.function}: {c.action} on {c.resource or '(no resource in the request)'}"
        for c in sorted(calls, key=lambda c: (c.function, c.action, c.resource or ""))
        if not allowed(resources, c)
    ]
    lines += [
        f"{w.function}: {w.action} of partition {w.partition} naming {sorted(w.attributes)} (denied)"
        for w in sorted(writes, key=lambda w: (w.function, w.action, w.partition, sorted(w.attributes)))
        if denied(statements_of(resources, w.function), w.action, w.partition, w.attributes)
    ]
    return lines

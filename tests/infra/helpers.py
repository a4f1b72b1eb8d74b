"""Reading a synthesized template: resources by type, functions by handler, a function's IAM actions."""

from __future__ import annotations

import fnmatch
import importlib
import json
import os
import re

from asyncinfer.surfaces.serving import WEB_APPS
from infra.config import ROOT, InfraConfig
from tests.infra.conftest import CDK_JSON

CONFIG = InfraConfig.from_context(json.loads(CDK_JSON.read_text())["context"]["asyncinfer"])


def of_type(resources, kind):
    return {name: r["Properties"] for name, r in resources.items() if r["Type"] == kind}


def functions_by_handler(resources):
    return {p["Handler"]: (name, p) for name, p in of_type(resources, "AWS::Lambda::Function").items()}


def deployed_handler(name: str) -> str:
    """The handler Lambda runs for function `name`: its HANDLERS entry, but for the Responses function (an ASGI
    app under Lambda Web Adapter; HANDLERS names its resolver's entry point, which the dev stack invokes) the
    script the adapter runs."""
    from asyncinfer.routes import HANDLERS
    from infra.components.responses_function import SCRIPT

    return SCRIPT if name == "api_responses" else HANDLERS[name]


def module_of(handler: str) -> str:
    """`api_async` of asyncinfer.handlers.api_async.lambda_handler; `stream` of asyncinfer/handlers/stream.sh."""
    return handler.removeprefix("asyncinfer.handlers.").removeprefix("asyncinfer/handlers/").split(".")[0]


def resolve_handler(handler: str):
    """A Python handler is module.function; the streaming function's is a script that Lambda Web Adapter
    runs, which must be executable and serve an importable ASGI app."""
    if handler.endswith(".sh"):
        script = ROOT / "functions" / handler
        assert script.is_file() and os.access(script, os.X_OK), f"{handler} is not an executable script"
        (target,) = re.findall(r"uvicorn ([\w.]+:\w+)", script.read_text())
        assert target in WEB_APPS.values()
        module, _, attr = target.partition(":")
    else:
        module, _, attr = handler.rpartition(".")
    return importlib.import_module(module), getattr(importlib.import_module(module), attr)


def policy_statements_of(resources, function_logical_id):
    role = resources[function_logical_id]["Properties"]["Role"]["Fn::GetAtt"][0]
    statements = []
    for policy in of_type(resources, "AWS::IAM::Policy").values():
        if {"Ref": role} in policy["Roles"]:
            statements += policy["PolicyDocument"]["Statement"]
    return statements


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def actions_of(statements):
    """The actions the statements allow (a Deny's actions are what it takes away, not grants)."""
    found = set()
    for statement in statements:
        if statement["Effect"] == "Allow":
            found |= set(as_list(statement["Action"]))
    return found


def denied(statements, action: str, leading_key: str, attributes=()) -> bool:
    """Whether a Deny among the statements refuses a write of `action` to the table on an item whose partition
    key is `leading_key`, naming `attributes`: IAM's dynamodb:LeadingKeys and dynamodb:Attributes, evaluated
    with the operators the stack uses (any other fails the test rather than pass unexamined)."""
    request = {"dynamodb:LeadingKeys": [leading_key], "dynamodb:Attributes": sorted(attributes)}

    def holds(operator: str, key: str, expected) -> bool:
        values, patterns = request.get(key, []), as_list(expected)
        if operator == "ForAnyValue:StringLike":
            return any(fnmatch.fnmatchcase(value, pattern) for value in values for pattern in patterns)
        if operator == "ForAnyValue:StringEquals":
            return any(value in patterns for value in values)
        raise AssertionError(f"{operator} {key}: not evaluated here")

    for statement in statements:
        if statement["Effect"] != "Deny":
            continue
        if not any(fnmatch.fnmatchcase(action, pattern) for pattern in as_list(statement["Action"])):
            continue
        conditions = statement.get("Condition", {})
        if all(holds(op, key, expected) for op, keys in conditions.items() for key, expected in keys.items()):
            return True
    return False


def queue_id(resources, name: str) -> str:
    """The logical id of one of the Queues construct's queues: Tasks, DeadLetters, Webhooks, Batches, ..."""
    (found,) = [n for n in of_type(resources, "AWS::SQS::Queue") if re.fullmatch(f"Queues{name}[0-9A-F]{{8}}", n)]
    return found

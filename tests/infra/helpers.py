"""Reading a synthesized template: resources by type, functions by handler, a function's IAM actions."""

from __future__ import annotations

import importlib
import json
import os
import re

from asyncinfer.routes import STREAM_APP
from infra.config import ROOT, InfraConfig
from tests.infra.conftest import CDK_JSON

CONFIG = InfraConfig.from_context(json.loads(CDK_JSON.read_text())["context"]["asyncinfer"])


def of_type(resources, kind):
    return {name: r["Properties"] for name, r in resources.items() if r["Type"] == kind}


def functions_by_handler(resources):
    return {p["Handler"]: (name, p) for name, p in of_type(resources, "AWS::Lambda::Function").items()}


def resolve_handler(handler: str):
    """A Python handler is module.function; the streaming function's is a script that Lambda Web Adapter
    runs, which must be executable and serve an importable ASGI app."""
    if handler.endswith(".sh"):
        script = ROOT / "functions" / handler
        assert script.is_file() and os.access(script, os.X_OK), f"{handler} is not an executable script"
        (target,) = re.findall(r"uvicorn ([\w.]+:\w+)", script.read_text())
        assert target == STREAM_APP
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


def actions_of(statements):
    found = set()
    for statement in statements:
        actions = statement["Action"]
        found |= {actions} if isinstance(actions, str) else set(actions)
    return found


def queue_id(resources, name: str) -> str:
    """The logical id of one of the Queues construct's queues: Tasks, DeadLetters, Webhooks, Batches, ..."""
    (found,) = [n for n in of_type(resources, "AWS::SQS::Queue") if re.fullmatch(f"Queues{name}[0-9A-F]{{8}}", n)]
    return found

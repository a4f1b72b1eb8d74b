"""The Lambda concurrency the stack can demand, read from its synthesized template: a function's reserved concurrency
bounds it; otherwise the sum of its SQS event sources' maximum concurrency (`ScalingConfig.MaximumConcurrency`), when
every source that invokes it has one. Anything else (API Gateway, schedules, streams, a source without a maximum, the
runner without a reservation) is unbounded by the stack and shares what the account has left."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asyncinfer.routes import HANDLERS

_NAMES = {handler: name for name, handler in HANDLERS.items()}


@dataclass(frozen=True)
class Demand:
    bounded: dict[str, int]  # function -> the most concurrent executions the stack lets it take
    unbounded: tuple[str, ...]  # functions the stack does not bound

    @property
    def total(self) -> int:
        return sum(self.bounded.values())

    def describe(self) -> str:
        return ", ".join(f"{name} {n}" for name, n in sorted(self.bounded.items(), key=lambda x: (-x[1], x[0])))


def _target_of(mapping: dict[str, Any]) -> str | None:
    """The logical id of the function an event source mapping invokes, when it names one directly."""
    name = mapping.get("FunctionName")
    if isinstance(name, dict):
        if "Ref" in name:
            return name["Ref"]
        if "Fn::GetAtt" in name:
            return name["Fn::GetAtt"][0]
    return None


def demand_of(template: dict[str, Any]) -> Demand:
    resources = template.get("Resources", {})
    functions = {rid: r["Properties"] for rid, r in resources.items() if r["Type"] == "AWS::Lambda::Function"}
    sources: dict[str | None, list[int | None]] = {}
    for resource in resources.values():
        if resource["Type"] == "AWS::Lambda::EventSourceMapping":
            props = resource["Properties"]
            sources.setdefault(_target_of(props), []).append(props.get("ScalingConfig", {}).get("MaximumConcurrency"))
    bounded: dict[str, int] = {}
    unbounded: list[str] = []
    for rid, props in functions.items():
        name = _NAMES.get(props.get("Handler", ""), rid)
        reserved = props.get("ReservedConcurrentExecutions")
        maxima = sources.get(rid, [])
        if reserved is not None:
            bounded[name] = bounded.get(name, 0) + int(reserved)
        elif maxima and all(m is not None for m in maxima):
            bounded[name] = bounded.get(name, 0) + sum(int(m) for m in maxima)
        else:
            unbounded.append(name)
    return Demand(bounded, tuple(sorted(unbounded)))


def synthesized_template(project: Path) -> dict[str, Any]:
    """The stack's template as `cdk synth` builds it from the project's cdk.json, assets left unbundled (no
    pip, nothing written outside a temporary directory)."""
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")  # preflight checks Node itself
    if str(project) not in sys.path:
        sys.path.insert(0, str(project))
    from aws_cdk import App

    from infra.app import build

    context = {**json.loads((project / "cdk.json").read_text())["context"], "aws:cdk:bundling-stacks": []}
    with tempfile.TemporaryDirectory(prefix="asyncinfer-preflight-") as outdir:
        app = App(context=context, outdir=outdir)
        stack = build(app)
        return app.synth().get_stack_by_name(stack.stack_name).template

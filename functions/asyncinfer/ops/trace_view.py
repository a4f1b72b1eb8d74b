"""`asyncinfer trace TASK_ID`: a task's trace as a waterfall (hop, start offset, duration, key attributes).

Locally the stack's processes append their spans to one file (`ASYNCINFER_TRACES_FILE`, named in the local
stack's settings); on AWS the spans are in X-Ray, and the command prints where (the trace id from the task's
record, as X-Ray's console spells it)."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from asyncinfer.domain.errors import TaskNotFound
from asyncinfer.domain.ids import parse_any
from asyncinfer.observability import tracing
from asyncinfer.store.base import TaskStore

TRACES_FILE = "ASYNCINFER_TRACES_FILE"
# What a waterfall's line shows of a span's attributes (never text: spans hold none).
SHOWN = {
    tracing.GEN_AI.GEN_AI_REQUEST_MODEL: "model",
    tracing.GEN_AI.GEN_AI_USAGE_INPUT_TOKENS: "in",
    tracing.GEN_AI.GEN_AI_USAGE_OUTPUT_TOKENS: "out",
    tracing.GEN_AI.GEN_AI_RESPONSE_FINISH_REASONS: "finish",
    tracing.GEN_AI.GEN_AI_TOOL_NAME: "tool",
    tracing.QUEUE_POSITION: "position",
    tracing.ATTEMPT: "attempt",
    tracing.INVOCATION: "invocation",
    tracing.EVENT_TYPE: "event",
    "http.response.status_code": "status",
}


def add_parser(commands: Any) -> None:
    trace = commands.add_parser("trace", help="a task's trace: each hop, when it started, how long it took")
    trace.add_argument("task_id", help="the task's id, as any surface spells it (a batch item's too)")
    trace.add_argument("--tenant", help="the task's tenant: on AWS, to read its trace id from its record")
    trace.add_argument("--file", default=os.environ.get(TRACES_FILE), help="the local stack's spans (default: its)")
    trace.add_argument("--table", default=os.environ.get("ASYNCINFER_TABLE_NAME"), help="the task table (AWS)")


def run(parser: argparse.ArgumentParser, args: argparse.Namespace, task_store: Callable[[str], TaskStore]) -> int:
    with contextlib.suppress(TaskNotFound):  # any surface's spelling of the id: spans and records name the store's
        args.task_id = parse_any(args.task_id)
    if args.file:
        spans = task_trace(read_spans(Path(args.file)), args.task_id)
        if not spans:
            parser.error(f"no span of task {args.task_id} in {args.file} (is it this stack's task?)")
        print("\n".join(waterfall(spans)))
        return 0
    if not (args.table and args.tenant):
        parser.error("no local stack's spans: give --tenant and --table (or ASYNCINFER_TABLE_NAME) to find it on AWS")
    task = task_store(args.table).get(args.tenant, args.task_id)
    trace_id = tracing.trace_id(task.traceparent) if task else None
    if trace_id is None:
        parser.error(f"tenant {args.tenant!r} has no task {args.task_id!r} with a trace")
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    print(f"trace {trace_id} (X-Ray: {xray_id(trace_id)})")
    print(f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#xray:traces/{xray_id(trace_id)}")
    print(
        "Sampled traces only (the tracing.sample_rate setting); Transaction Search must be on: docs/operate/tracing.md"
    )
    return 0


def xray_id(trace_id: str) -> str:
    """A W3C trace id as X-Ray's console spells it: 1-{8 hex}-{24 hex}."""
    return f"1-{trace_id[:8]}-{trace_id[8:]}"


def read_spans(path: Path) -> Iterator[dict[str, Any]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return
    for line in lines:
        try:
            yield json.loads(line)
        except ValueError:  # a line another process is still writing
            continue


def task_trace(spans: Iterable[dict[str, Any]], task_id: str) -> list[dict[str, Any]]:
    """Every span of the trace(s) holding a span of `task_id`, by start time."""
    spans = list(spans)
    traces = {s["trace_id"] for s in spans if s.get("attributes", {}).get(tracing.TASK_ID) == task_id}
    return sorted((s for s in spans if s["trace_id"] in traces), key=lambda s: (s["start_ns"], s["end_ns"] or 0))


def waterfall(spans: list[dict[str, Any]]) -> list[str]:
    """One line per span: offset from the trace's first start, duration, the hop indented under its parent."""
    start = min(s["start_ns"] for s in spans)
    depth: dict[str, int] = {}
    for span in spans:
        depth[span["span_id"]] = depth.get(span.get("parent_id") or "", -1) + 1
    lines = [f"trace {spans[0]['trace_id']}", f"{'start':>10}  {'duration':>10}  hop"]
    for span in spans:
        offset = (span["start_ns"] - start) / 1e6
        took = ((span["end_ns"] or span["start_ns"]) - span["start_ns"]) / 1e6
        shown = "  ".join(
            f"{label}={_short(span['attributes'][name])}" for name, label in SHOWN.items() if name in span["attributes"]
        )
        links = (
            "  links=" + ",".join(link["trace_id"][:8] for link in span.get("links") or []) if span.get("links") else ""
        )
        hop = "  " * depth[span["span_id"]] + span["name"]
        error = "  ERROR" if span.get("status") == "ERROR" else ""
        lines.append(f"{offset:>8.1f}ms  {took:>8.1f}ms  {hop}{_where(span)}  {shown}{links}{error}".rstrip())
    return lines


def _where(span: dict[str, Any]) -> str:
    """The function that made it, where it is known (on AWS; the local stack's share one process)."""
    service = span.get("service")
    return f"  [{service}]" if service and service != "asyncinfer" else ""


def _short(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)

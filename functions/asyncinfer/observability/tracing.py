"""One trace per task, across the async gap (docs/operate/tracing.md).

A task's trace is named by the W3C `traceparent` of its submit's span, kept on its record (`Task.traceparent`,
`Batch.traceparent`) and on the messages that carry it. Each later hop (queue wait, claim, model turns, tool
calls, runner invocations, webhook deliveries) opens its span under it, so they all share the submit's trace
id. Spans carry names, ids, counts and OpenTelemetry's GenAI attributes (`GEN_AI` below): never a prompt, an
output or a credential."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as GEN_AI
from opentelemetry.trace import Link, Span, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from asyncinfer.observability import exporting

__all__ = ["GEN_AI", "SpanKind"]

_PROPAGATOR = TraceContextTextMapPropagator()
HEADER = "traceparent"

# asyncinfer's own attributes (GenAI's are GEN_AI.*): ids and counts only.
TASK_ID = "asyncinfer.task.id"
BATCH_ID = "asyncinfer.batch.id"
TENANT = "asyncinfer.tenant"
KIND = "asyncinfer.task.kind"
ATTEMPT = "asyncinfer.task.attempt"
STATUS = "asyncinfer.task.status"
LANE = "asyncinfer.lane"
QUEUE_POSITION = "asyncinfer.queue.position"  # on a submit's span: its place in its lane's line then
INVOCATION = "asyncinfer.runner.invocation"
DELIVERY_ID = "asyncinfer.webhook.delivery_id"
EVENT_TYPE = "asyncinfer.webhook.event_type"


def tracer() -> trace.Tracer:
    exporting.provider()
    return trace.get_tracer("asyncinfer")


def context_of(traceparent: str | None) -> Context | None:
    """The context a `traceparent` names (None without one: the span then starts where the caller is)."""
    if not traceparent:
        return None
    return _PROPAGATOR.extract({HEADER: traceparent})


def traceparent(span: Span | None = None) -> str | None:
    """The `traceparent` of `span`, else of the current span (None outside any valid span)."""
    target = span if span is not None else trace.get_current_span()
    if not target.get_span_context().is_valid:
        return None
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier, context=trace.set_span_in_context(target))
    return carrier.get(HEADER)


def headers(span: Span | None = None) -> dict[str, str]:
    """`{"traceparent": ...}` for an outgoing request (a webhook delivery, an MCP call), or {}."""
    value = traceparent(span)
    return {HEADER: value} if value else {}


def trace_id(traceparent_value: str | None) -> str | None:
    """The 32 hex digits of a `traceparent`'s trace id, or None."""
    parts = (traceparent_value or "").split("-")
    return parts[1] if len(parts) == 4 and len(parts[1]) == 32 else None


def _links(parents: Sequence[str | None]) -> list[Link]:
    links = []
    for value in parents:
        context = context_of(value)
        if context is not None:
            linked = trace.get_current_span(context).get_span_context()
            if linked.is_valid:
                links.append(Link(linked))
    return links


def _clean(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    return {k: v for k, v in (attributes or {}).items() if v is not None}


@contextmanager
def span(
    name: str,
    *,
    parent: str | None = None,
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: Mapping[str, Any] | None = None,
    links: Sequence[str | None] = (),
    start_ms: int | None = None,
) -> Iterator[Span]:
    """A span made current for the block: under `parent` (a traceparent) when given, else under the current
    span; linked to `links` (traceparents, e.g. a batch item's batch). An exception is recorded and re-raised."""
    with tracer().start_as_current_span(
        name,
        context=context_of(parent),
        kind=kind,
        attributes=_clean(attributes),
        links=_links(links),
        start_time=start_ms * 1_000_000 if start_ms is not None else None,
    ) as current:
        yield current


def record(
    name: str,
    *,
    parent: str | None,
    start_ms: int,
    end_ms: int,
    attributes: Mapping[str, Any] | None = None,
    links: Sequence[str | None] = (),
) -> None:
    """A span that already happened (a queue wait: from the submit to the claim), told after the fact."""
    done = tracer().start_span(
        name,
        context=context_of(parent),
        attributes=_clean(attributes),
        links=_links(links),
        start_time=start_ms * 1_000_000,
    )
    done.end(end_time=max(start_ms, end_ms) * 1_000_000)


def new_traceparent(
    name: str,
    *,
    parent: str | None = None,
    attributes: Mapping[str, Any] | None = None,
    links: Sequence[str | None] = (),
) -> str | None:
    """A new span, ended at once, whose traceparent starts a record's trace where no request span is current
    (a batch item made by the batch function, a scheduled run): its later hops hang under it."""
    made = tracer().start_span(name, context=context_of(parent), attributes=_clean(attributes), links=_links(links))
    made.end()
    return traceparent(made)


def annotate(name: str, value: Any) -> None:
    """An attribute on the current span, if one records."""
    trace.get_current_span().set_attribute(name, value)


def incoming(event: Mapping[str, Any]) -> str | None:
    """A proxy event's own `traceparent` header (any case), if it is well formed: the caller's trace."""
    for name, value in (event.get("headers") or {}).items():
        if name.lower() == HEADER and trace_id(value):
            return value
    return None


@contextmanager
def request_span(event: Mapping[str, Any]) -> Iterator[Span]:
    """An API request's span (a submit's is its task's first), under the caller's `traceparent` if it sent one."""
    method = event.get("httpMethod") or "GET"
    route = event.get("resource") or event.get("path") or "/"
    attributes = {"http.request.method": method, "http.route": route}
    with span(f"{method} {route}", parent=incoming(event), kind=SpanKind.SERVER, attributes=attributes) as current:
        yield current


def answered(answer: Any, current: Span) -> Any:
    """A proxy answer with the request span's `traceparent` header: the task's trace, on a submit's."""
    value = traceparent(current)
    if isinstance(answer, dict) and value:
        answer.setdefault("headers", {})
        if answer["headers"] is None:
            answer["headers"] = {}
        answer["headers"][HEADER] = value
        status = answer.get("statusCode")
        if isinstance(status, int):
            current.set_attribute("http.response.status_code", status)
    return answer


def flush() -> None:
    exporting.flush()


def flushed(handler: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """A Lambda entry point that exports its spans before it returns (or raises)."""

    @functools.wraps(handler)
    def run(event: Any, context: Any) -> Any:
        try:
            return handler(event, context)
        finally:
            flush()

    return run

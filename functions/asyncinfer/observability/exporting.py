"""Where this process's spans go, chosen once from its environment (docs/operate/tracing.md):

- `ASYNCINFER_TRACES_FILE`: one JSON line per span, appended (the local stack gives every process the same
  file: one place it owns, which `asyncinfer trace` reads);
- `ASYNCINFER_TRACES_ENDPOINT`: OTLP over HTTP, signed with SigV4 (service `xray`), to X-Ray's OTLP traces
  endpoint, `https://xray.{region}.amazonaws.com/v1/traces`
  (https://docs.aws.amazon.com/xray/latest/devguide/xray-opentelemetry.html), batched and flushed before the
  invocation returns, as Lambda freezes the instance after it;
- neither: spans are made (a test may add a processor) and dropped.

`ASYNCINFER_TRACE_SAMPLE_RATE` (0 to 1, default 1) samples whole traces: the decision is the submit's, and
every later hop follows its parent's (`ParentBased`). A caller's own `traceparent` makes the task join its
trace, but not its sampling decision: a caller cannot make every one of its requests traced (and billed)."""

from __future__ import annotations

import json
import os
import threading
from typing import TYPE_CHECKING, Any

from opentelemetry import trace

# The SDK is imported with the first span (or flush) a process makes: a function that makes none never loads it.
if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider

SERVICE = "asyncinfer"
_lock = threading.Lock()
_provider: TracerProvider | None = None


def provider() -> TracerProvider:
    """This process's tracer provider, made and installed on first use."""
    global _provider
    if _provider is not None:
        return _provider
    with _lock:
        if _provider is None:
            _provider = _make()
            trace.set_tracer_provider(_provider)
    return _provider


def add(processor: SpanProcessor) -> None:
    """Another destination for this process's spans (tests read them from memory)."""
    provider().add_span_processor(processor)


def flush(timeout_ms: int = 2000) -> None:
    """Export what is buffered: before an invocation returns, since a frozen instance exports nothing."""
    if _provider is not None:
        _provider.force_flush(timeout_ms)


def _make() -> TracerProvider:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    rate = float(os.environ.get("ASYNCINFER_TRACE_SAMPLE_RATE") or 1)
    attributes = {"service.name": SERVICE}
    function = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
    if function:
        attributes["faas.name"] = function
    ours = TraceIdRatioBased(rate)
    sampler = ParentBased(ours, remote_parent_sampled=ours, remote_parent_not_sampled=ours)
    made = TracerProvider(resource=Resource.create(attributes), sampler=sampler)
    path = os.environ.get("ASYNCINFER_TRACES_FILE")
    if path:
        out = open(path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115 - the process's lifetime
        made.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter(out=out, formatter=span_line)))
    endpoint = os.environ.get("ASYNCINFER_TRACES_ENDPOINT")
    if endpoint:
        made.add_span_processor(BatchSpanProcessor(_otlp(endpoint)))
    return made


def span_line(span: ReadableSpan) -> str:
    """One span as one JSON line: what `asyncinfer trace` reads (a write under O_APPEND, so the processes
    sharing the file never interleave within a line)."""
    context = span.get_span_context()
    parent = span.parent
    line: dict[str, Any] = {
        "trace_id": format(context.trace_id, "032x"),
        "span_id": format(context.span_id, "016x"),
        "parent_id": format(parent.span_id, "016x") if parent is not None else None,
        "name": span.name,
        "kind": span.kind.name,
        "start_ns": span.start_time,
        "end_ns": span.end_time,
        "status": span.status.status_code.name,
        "attributes": dict(span.attributes or {}),
        "links": [
            {"trace_id": format(link.context.trace_id, "032x"), "span_id": format(link.context.span_id, "016x")}
            for link in span.links
        ],
        "service": (span.resource.attributes.get("faas.name") or SERVICE) if span.resource else SERVICE,
    }
    return json.dumps(line, default=str, separators=(",", ":")) + "\n"


def _otlp(endpoint: str) -> Any:
    """The OTLP/HTTP exporter, its requests signed as the function's role: imported only where spans go
    to AWS (protobuf and requests are not every process's import time)."""
    import requests
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.session import get_session
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    botocore_session = get_session()

    class SigV4(requests.auth.AuthBase):
        def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
            credentials = botocore_session.get_credentials().get_frozen_credentials()
            signed = AWSRequest(
                method=request.method,
                url=request.url,
                data=request.body,
                headers={k: v for k, v in request.headers.items() if k.lower() in ("content-type", "content-encoding")},
            )
            SigV4Auth(credentials, "xray", region).add_auth(signed)
            request.headers.update(dict(signed.headers))
            return request

    session = requests.Session()
    session.auth = SigV4()
    return OTLPSpanExporter(endpoint=endpoint, session=session, timeout=5)

"""Cross-origin answers (cdk.json `cors_origins`; ASYNCINFER_CORS_ORIGINS in every API function and the local
stack): a page on an allowed origin may call the API with the browser's fetch, read the answers, follow the SSE
streams; an answer to any other origin carries no CORS header, so the browser keeps it from that page.

One list for all that answers: the functions (JSON, SSE, errors), API Gateway's preflight (OPTIONS, a MOCK
integration: infra/components/cors.py) and its own errors, and the local stack's dev gateway. No credentials
(cookies) are ever allowed: the API's key travels in `Authorization`, which a preflight must name."""

from __future__ import annotations

import os
from collections.abc import Mapping

ORIGINS_ENV = "ASYNCINFER_CORS_ORIGINS"
# An origin as browsers send it: scheme, host, optional port; no path, no trailing slash, no wildcard.
ORIGIN = r"^https?://(\[[0-9a-f:.]+\]|[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*)(:[0-9]{1,5})?$"

METHODS = ("GET", "POST", "DELETE")
# What clients send: the key, JSON, the headers the routes declare (asyncinfer.surfaces.contract), and the ones
# OpenAI's and Anthropic's SDKs add to every request (their browser modes too), so that they work from a page by
# changing only the base URL.
REQUEST_HEADERS = (
    "Authorization",
    "Content-Type",
    "Idempotency-Key",
    "Last-Event-ID",
    "Prefer",
    "Cancel-After",
    "X-Fal-Request-Timeout",
    "x-api-key",
    "anthropic-version",
    "anthropic-beta",
    # W3C trace context: a page's own trace continues into the request's span (docs/operate/tracing.md).
    "traceparent",
    "tracestate",
    "anthropic-dangerous-direct-browser-access",
    "OpenAI-Organization",
    "OpenAI-Project",
    "OpenAI-Beta",
    *(
        f"x-stainless-{name}"
        for name in (
            "arch",
            "async",
            "lang",
            "os",
            "package-version",
            "read-timeout",
            "retry-count",
            "runtime",
            "runtime-version",
            "timeout",
            "helper-method",
            "poll-helper",
            "custom-poll-interval",
        )
    ),
)
# What a page may read beyond the safelisted headers: when to poll again, where a task's trace is, what a
# Prefer applied, a file's content redirect.
EXPOSED_HEADERS = ("Retry-After", "openai-poll-after-ms", "traceparent", "Preference-Applied", "Location", "ETag")
MAX_AGE_SECONDS = 600

ALLOW_ORIGIN = "Access-Control-Allow-Origin"


def origins(environ: Mapping[str, str] = os.environ) -> tuple[str, ...]:
    """The allowed origins, from the comma-separated ASYNCINFER_CORS_ORIGINS (none: CORS is off)."""
    return tuple(origin.strip() for origin in environ.get(ORIGINS_ENV, "").split(",") if origin.strip())


def answer_headers(origin: str | None, allowed: tuple[str, ...]) -> dict[str, str]:
    """The headers an answer to a request from `origin` carries. `Vary: Origin` whenever CORS is on, so that a
    cache never hands one origin's answer to another."""
    if not allowed:
        return {}
    if origin not in allowed:
        return {"Vary": "Origin"}
    return {ALLOW_ORIGIN: origin, "Access-Control-Expose-Headers": ", ".join(EXPOSED_HEADERS), "Vary": "Origin"}


def preflight_headers(origin: str | None, allowed: tuple[str, ...]) -> dict[str, str]:
    """The answer to a preflight (OPTIONS) from `origin`: what it may send, for how long the browser may keep
    that; nothing but `Vary` for an origin not allowed."""
    if origin is None or origin not in allowed:
        return {"Vary": "Origin"} if allowed else {}
    return {
        ALLOW_ORIGIN: origin,
        "Access-Control-Allow-Methods": ", ".join(METHODS),
        "Access-Control-Allow-Headers": ", ".join(REQUEST_HEADERS),
        "Access-Control-Max-Age": str(MAX_AGE_SECONDS),
        "Vary": "Origin",
    }


def gateway_headers(allowed: tuple[str, ...]) -> dict[str, str]:
    """The headers of API Gateway's own answers (401 before the authorizer, 403, 429, 413, WAF's 403). Their
    header values are fixed strings or a copy of a request header, never a choice
    (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-swagger-extensions-gateway-responses.gatewayResponse.html),
    so only a single allowed origin can be named; copying `Origin` would answer every origin."""
    if len(allowed) != 1:
        return {}
    return {ALLOW_ORIGIN: allowed[0], "Access-Control-Expose-Headers": ", ".join(EXPOSED_HEADERS), "Vary": "Origin"}


def to_add(headers: Mapping[str, object], extra: Mapping[str, str]) -> dict[str, str]:
    """`extra` for the names `headers` lacks (any case); a `Vary` joins the one already there."""
    present = {name.lower(): name for name in headers}
    added: dict[str, str] = {}
    for name, value in extra.items():
        if name.lower() not in present:
            added[name] = value
        elif name.lower() == "vary" and value.lower() not in str(headers[present["vary"]]).lower():
            added[present["vary"]] = f"{headers[present['vary']]}, {value}"
    return added

"""The `Prefer` request header (RFC 7240) as a submit reads it: `wait=N`, how long the client would have the answer
wait for the task to finish (sync-then-async, as Replicate and RunPod offer it)."""

from __future__ import annotations

import re

PREFER_HEADER = "Prefer"
APPLIED_HEADER = "Preference-Applied"
# API Gateway gives an integration 29 s by default (docs.aws.amazon.com/apigateway/latest/developerguide/limits.html);
# the submit itself, and a cold start, need some of them.
MAX_WAIT_SECONDS = 20
# A preference: a token, with `=value` (a token or a quoted string), then `;`-separated parameters (ignored).
_PREFERENCE = re.compile(r'^\s*([!#$%&\'*+.^_`|~0-9A-Za-z-]+)\s*(?:=\s*("(?:[^"\\]|\\.)*"|[^\s;,]*))?\s*(?:;.*)?$')


def preferences(header: str | None) -> dict[str, str]:
    """The preferences a Prefer header names (lower-cased), each with its value ('' for none); the first of a name
    wins (RFC 7240 §2). One that does not parse is ignored, as the RFC asks of a preference not understood."""
    found: dict[str, str] = {}
    for part in (header or "").split(","):
        matched = _PREFERENCE.match(part)
        if matched:
            found.setdefault(matched.group(1).lower(), (matched.group(2) or "").strip('"'))
    return found


def wait_seconds(header: str | None) -> int | None:
    """How long to wait for the task, in whole seconds up to MAX_WAIT_SECONDS (a bare `wait`, as Replicate takes it:
    the most); None when the header asks for no wait (absent, `wait=0`, or not a number of seconds, which RFC 7240
    has the server ignore)."""
    found = preferences(header)
    if "wait" not in found:
        return None
    value = found["wait"]
    if value == "":
        return MAX_WAIT_SECONDS
    if not value.isascii() or not value.isdigit() or int(value) == 0:
        return None
    return min(int(value), MAX_WAIT_SECONDS)

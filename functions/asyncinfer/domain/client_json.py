"""JSON from a client, read strictly at the boundary before any model sees it: no NaN or Infinity, nothing
nested too deep, no string that cannot be stored as UTF-8; a request body is one JSON object of a bounded
size, or a typed error saying why not."""

from __future__ import annotations

import json
from typing import Any

from asyncinfer.domain.errors import InvalidJson, RequestTooLarge

MAX_JSON_DEPTH = 64


def _not_json(constant: str) -> None:
    raise ValueError(f"{constant} is not a JSON number")


def loads_client_json(raw: str | bytes) -> Any:
    """JSON from a client, strictly: no NaN or Infinity, nothing nested deeper than MAX_JSON_DEPTH, no
    string that cannot be stored as UTF-8 (a lone surrogate such as \\ud800). ValueError says why not."""
    try:
        data = json.loads(raw, parse_constant=_not_json)
    except RecursionError:
        raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels") from None
    pending: list[tuple[Any, int]] = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict | list) and depth > MAX_JSON_DEPTH:
            raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels")
        if isinstance(value, dict):
            pending += [(k, depth) for k in value] + [(v, depth + 1) for v in value.values()]
        elif isinstance(value, list):
            pending += [(v, depth + 1) for v in value]
        elif isinstance(value, str):
            try:
                value.encode()
            except UnicodeEncodeError:
                raise ValueError("a string holds a lone surrogate, which is not Unicode text") from None
    return data


def parse_json_body(body: str | bytes | None, max_bytes: int) -> dict[str, Any]:
    """The request body as a JSON object, or a typed error saying why not."""
    raw = body.encode(errors="surrogatepass") if isinstance(body, str) else (body or b"")
    if len(raw) > max_bytes:
        raise RequestTooLarge(f"Request body is {len(raw)} bytes; the limit is {max_bytes}")
    if not raw.strip():
        raise InvalidJson("Request body is empty; send a JSON object")
    try:
        data = loads_client_json(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidJson(f"Request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidJson("Request body must be a JSON object")
    return data

"""Reading the OpenAPI document in tests: the answers' schemas are components, referred to by `$ref`; an answer checked
against its route's schema."""

from __future__ import annotations

import json
from typing import Any


def schema_at(document: dict[str, Any], schema: dict[str, Any], *names: str) -> dict[str, Any]:
    """The schema reached from `schema` through its properties `names`, each `$ref` followed."""
    for name in (None, *names):
        schema = schema if name is None else schema["properties"][name]
        while "$ref" in schema:
            schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def answer_schema(document: dict[str, Any], method: str, path: str, *names: str) -> dict[str, Any]:
    """The schema of `method path`'s 200 answer (or of its properties `names`), each `$ref` followed."""
    content = document["paths"][path][method.lower()]["responses"]["200"]["content"]["application/json"]
    return schema_at(document, content["schema"], *names)


def _closed(node: Any) -> Any:
    """The schema with every object that does not say otherwise refusing properties it does not name."""
    if isinstance(node, list):
        return [_closed(each) for each in node]
    if not isinstance(node, dict):
        return node
    node = {key: _closed(value) for key, value in node.items()}
    if "properties" in node:
        node.setdefault("additionalProperties", False)
    return node


def answer_errors(document: dict[str, Any], method: str, path: str, answer: Any) -> list[str]:
    """How `answer` (a 200 of `method path`, as JSON) differs from its documented schema: a field not named
    there, one missing that is required, a type or format not as documented. Empty when it matches."""
    from jsonschema import Draft202012Validator

    content = document["paths"][path][method.lower()]["responses"]["200"]["content"]["application/json"]
    schema = _closed({**content["schema"], "components": document["components"]})
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    found = validator.iter_errors(json.loads(json.dumps(answer)))
    return [f"{method} {path} {'/'.join(map(str, e.absolute_path))}: {e.message}" for e in found]


def answered_routes(document: dict[str, Any]) -> set[tuple[str, str]]:
    """The routes whose 200 answer is a documented model (a `$ref` to its schema, or to each of its shapes: a submit
    that may answer with the task's read after a `Prefer: wait`)."""
    return {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if _documented(operation["responses"]["200"].get("content", {}).get("application/json", {}).get("schema", {}))
    }


def _documented(schema: dict[str, Any]) -> bool:
    return "$ref" in schema or (bool(schema.get("anyOf")) and all("$ref" in shape for shape in schema["anyOf"]))

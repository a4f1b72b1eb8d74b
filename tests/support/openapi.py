"""Reading the OpenAPI document in tests: the answers' schemas are components, referred to by `$ref`."""

from __future__ import annotations

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

"""MkDocs hook: the docs pages that are generated from the code when the site is built.

A page asks for one with a marker line, replaced here by Markdown:

- `<!-- generated: openapi -->`: every operation of the OpenAPI document, as `GET /openapi.json` serves it
  (the route is looked up in `asyncinfer.routes` and its handler called with an API Gateway event, so the
  page follows the route wherever its code lives);
- `<!-- generated: settings -->`: every pydantic settings model of `asyncinfer.config`, its variables, their
  types, defaults, bounds and descriptions (a field's `description`, else the comment written above it).
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import re
import warnings
from typing import Any

MARKERS = {"openapi": "<!-- generated: openapi -->", "settings": "<!-- generated: settings -->"}


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    if MARKERS["openapi"] in markdown:
        markdown = markdown.replace(MARKERS["openapi"], operations_markdown(openapi_document()))
    if MARKERS["settings"] in markdown:
        markdown = markdown.replace(MARKERS["settings"], settings_markdown())
    return markdown


# --- the OpenAPI document ------------------------------------------------------------------------------


class _Context:
    function_name = "api_docs"
    memory_limit_in_mb = 128
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:api_docs"
    aws_request_id = "docs-build"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def openapi_document() -> dict[str, Any]:
    """The document the deployed API serves: the handler of the route `GET /openapi.json`, called as API
    Gateway would call it."""
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "asyncinfer-docs")
    from asyncinfer import routes

    route = next(r for r in routes.ROUTES if r.method == "GET" and r.path == "/openapi.json")
    module, name = routes.HANDLERS[route.function].rsplit(".", 1)
    handler = getattr(importlib.import_module(module), name)
    headers = {"Host": "docs.invalid", "Accept": "application/json"}
    event = {
        "resource": "/openapi.json",
        "path": "/openapi.json",
        "httpMethod": "GET",
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/openapi.json",
            "httpMethod": "GET",
            "path": "/openapi.json",
            "stage": "docs",
            "requestId": "docs-build",
        },
        "body": None,
        "isBase64Encoded": False,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        answer = handler(event, _Context())
    if answer.get("statusCode") != 200:
        raise RuntimeError(f"GET /openapi.json answered {answer.get('statusCode')}: {answer.get('body')}")
    return json.loads(answer["body"])


def _cell(text: Any) -> str:
    return " ".join(str(text).split()).replace("|", "\\|") if text not in (None, "") else ""


def _schema(schema: dict[str, Any] | None) -> str:
    """A schema in a few words: its component's name, its type, or its alternatives."""
    if not schema:
        return ""
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return " or ".join(_schema(s) for s in schema[key])
    if "enum" in schema:
        return " \\| ".join(f"`{v}`" for v in schema["enum"])
    kind = schema.get("type", "")
    if kind == "array":
        return f"array of {_schema(schema.get('items'))}"
    return kind if isinstance(kind, str) else " or ".join(kind)


def _content(content: dict[str, Any] | None) -> str:
    return "; ".join(f"`{media}` {_schema(body.get('schema'))}".strip() for media, body in (content or {}).items())


def operations_markdown(document: dict[str, Any]) -> str:
    info = document.get("info", {})
    lines = [
        f"Generated from *{info.get('title', 'the API')}* {info.get('version', '')} (OpenAPI {document['openapi']}).",
        "",
    ]
    by_tag: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in ("get", "put", "post", "delete", "patch", "head", "options"):
                tag = (operation.get("tags") or ["Other"])[0]
                by_tag.setdefault(tag, []).append((method.upper(), path, operation))
    for tag, operations in by_tag.items():
        lines += [f"## {tag}", ""]
        for method, path, operation in operations:
            lines += [f"### {method} {path}", ""]
            if operation.get("summary"):
                lines += [_cell(operation["summary"]), ""]
            if operation.get("description"):
                lines += [operation["description"].strip(), ""]
            parameters = operation.get("parameters", [])
            if parameters:
                lines += ["| parameter | in | required | schema | description |", "|---|---|---|---|---|"]
                for p in parameters:
                    required = "yes" if p.get("required") else ""
                    lines.append(
                        f"| `{p['name']}` | {p['in']} | {required} | {_cell(_schema(p.get('schema')))} "
                        f"| {_cell(p.get('description'))} |"
                    )
                lines.append("")
            body = operation.get("requestBody")
            if body:
                lines += [
                    f"Request body{' (required)' if body.get('required') else ''}: {_content(body.get('content'))}",
                    "",
                ]
            lines += ["| answer | description | content |", "|---|---|---|"]
            for status, response in operation.get("responses", {}).items():
                lines.append(
                    f"| {status} | {_cell(response.get('description'))} | {_cell(_content(response.get('content')))} |"
                )
            lines.append("")
    return "\n".join(lines)


# --- the settings models -------------------------------------------------------------------------------


def _comments(cls: type) -> dict[str, str]:
    """The comment written above each field of a class (or after it, on its line)."""
    found: dict[str, str] = {}
    above: list[str] = []
    for line in inspect.getsource(cls).splitlines()[1:]:
        stripped = line.strip()
        if stripped.startswith("#"):
            above.append(stripped.lstrip("#").strip())
            continue
        field = re.match(r"^\s+(\w+)\s*:", line)
        if field and not stripped.startswith(("def ", "return")):
            after = line.split("  # ", 1)[1].strip() if "  # " in line else ""
            found[field[1]] = " ".join([*above, after]).strip()
        above = []
    return found


def _type(annotation: Any) -> str:
    if isinstance(annotation, type):
        return annotation.__name__
    return re.sub(r"\b(typing|pathlib)\.", "", str(annotation)).replace(" | ", " or ")


def _default(field: Any) -> str:
    if field.is_required():
        return "required"
    value = field.default_factory() if field.default_factory is not None else field.default
    if value is None:
        return "unset"
    return f"`{json.dumps(value) if isinstance(value, (bool, list, dict)) else value}`"


def _bounds(field: Any) -> str:
    words = {"ge": "≥", "gt": ">", "le": "≤", "lt": "<", "min_length": "length ≥", "max_length": "length ≤"}
    out = []
    for item in field.metadata:
        for attribute, word in words.items():
            value = getattr(item, attribute, None)
            if value is not None:
                out.append(f"{word} {value}")
    return ", ".join(out)


def _variables(cls: Any, name: str, field: Any) -> list[str]:
    alias = field.validation_alias
    choices = getattr(alias, "choices", None)
    if choices:
        return [str(c) for c in choices]
    if isinstance(alias, str):
        return [alias]
    return [(cls.model_config.get("env_prefix", "") + name).upper()]


def settings_models() -> list[type]:
    from asyncinfer import config

    # The package's names are made on first use (asyncinfer.config), listed in the reference's order.
    found = [getattr(config, name) for name in config.__all__]
    return [
        cls
        for cls in found
        if inspect.isclass(cls) and issubclass(cls, config.EnvSettings) and cls is not config.EnvSettings
    ]


def settings_variables() -> dict[str, str]:
    """Every variable any settings model reads, and the first model that declares it."""
    out: dict[str, str] = {}
    for cls in settings_models():
        for name in inspect.get_annotations(cls):
            if name in cls.model_fields:
                for variable in _variables(cls, name, cls.model_fields[name]):
                    out.setdefault(variable, cls.__name__)
    return out


def settings_markdown() -> str:
    models = settings_models()
    names = {cls.__name__ for cls in models}
    lines: list[str] = []
    for cls in models:
        lines += [f"## `{cls.__name__}`", ""]
        if cls.__doc__:
            lines += [" ".join(cls.__doc__.split()), ""]
        bases = [b.__name__ for b in cls.__bases__ if b.__name__ in names and b.model_fields]
        if bases:
            links = ", ".join(f"[`{b}`](#{b.lower()})" for b in bases)
            lines += [f"Also reads the settings of {links}.", ""]
        own = [n for n in inspect.get_annotations(cls) if n in cls.model_fields]
        if not own:
            lines += ["Declares no settings of its own.", ""]
            continue
        comments = _comments(cls)
        lines += ["| variable | type | default | bounds | description |", "|---|---|---|---|---|"]
        for name in own:
            field = cls.model_fields[name]
            variables = ", ".join(f"`{v}`" for v in _variables(cls, name, field))
            description = field.description or comments.get(name, "")
            lines.append(
                f"| {variables} | `{_cell(_type(field.annotation))}` | {_cell(_default(field))} "
                f"| {_cell(_bounds(field))} | {_cell(description)} |"
            )
        lines.append("")
    return "\n".join(lines)

"""The GenAI attributes the package puts on spans are OpenTelemetry's own (the pinned semantic conventions'), and
a run of a model turn and a tool call names its spans and attributes by them."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from asyncinfer.domain.catalog import ModelRegistry
from asyncinfer.domain.model import Usage
from asyncinfer.domain.requests import ChatRequest
from asyncinfer.observability import exporting, genai
from asyncinfer.observability.tracing import GEN_AI
from asyncinfer.providers.base import Finished, TextDelta
from asyncinfer.tasks.tool_loop import run_tool_loop
from asyncinfer.tasks.turns import stream_turn
from asyncinfer.tools.base import ToolOutcome

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "functions" / "asyncinfer"
PIN = "opentelemetry-semantic-conventions"

# Every attribute name the conventions define under gen_ai., and every value their enums allow.
NAMES = {value for key, value in vars(GEN_AI).items() if key.startswith("GEN_AI_") and isinstance(value, str)}
OPERATIONS = {member.value for member in GEN_AI.GenAiOperationNameValues}
PROVIDERS = {member.value for member in GEN_AI.GenAiProviderNameValues}


def sources() -> list[tuple[Path, ast.Module]]:
    return [(path, ast.parse(path.read_text())) for path in sorted(PACKAGE.rglob("*.py"))]


def _names_gen_ai(node: ast.expr) -> bool:
    """`GEN_AI`, or `genai.GEN_AI` / `tracing.GEN_AI`."""
    return (isinstance(node, ast.Name) and node.id == "GEN_AI") or (
        isinstance(node, ast.Attribute) and node.attr == "GEN_AI"
    )


def test_the_pinned_semantic_conventions_are_the_installed_ones():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    (pinned,) = [d for d in project["dependencies"] if re.match(rf"{PIN}\b", d)]
    assert pinned.startswith(f"{PIN}=="), f"{pinned}: the GenAI names change between releases; pin one"
    assert pinned.removeprefix(f"{PIN}==") == importlib.metadata.version(PIN)


def test_every_gen_ai_name_the_package_uses_is_a_convention():
    used: set[str] = set()
    for path, tree in sources():
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and _names_gen_ai(node.value):
                # An attribute name or an enum of allowed values: either the conventions have it, or it breaks.
                assert hasattr(GEN_AI, node.attr), f"{path.relative_to(ROOT)}: GEN_AI.{node.attr}"
                used.add(node.attr)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("gen_ai."):
                assert node.value in NAMES, f"{path.relative_to(ROOT)}: {node.value!r} is no GenAI attribute"
    assert {"GEN_AI_OPERATION_NAME", "GEN_AI_REQUEST_MODEL", "GEN_AI_TOOL_CALL_ID", "GEN_AI_USAGE_INPUT_TOKENS"} <= used


@pytest.mark.parametrize(
    ("provider", "named"),
    [
        ({"type": "openai", "base_url": "http://127.0.0.1:1/v1"}, "openai"),
        ({"type": "bedrock", "region": "us-east-1"}, "aws.bedrock"),
        (None, genai.DEMO),
    ],
)
def test_a_model_s_provider_name_is_by_the_api_its_provider_speaks(provider, named):
    registry = ModelRegistry.model_validate(
        {
            "version": 1,
            "providers": {"p": provider} if provider else {},
            "models": {"m": {"provider": "p" if provider else "local", "upstream": "up", "kind": "chat"}},
        }
    )
    assert genai.provider_name(registry, registry.models["m"]) == named
    assert named in PROVIDERS or named == genai.DEMO


@pytest.fixture(scope="module")
def exporter():
    memory = InMemorySpanExporter()
    exporting.add(SimpleSpanProcessor(memory))
    yield memory
    memory.shutdown()


class Log:
    meter = None

    def add(self, event: dict[str, Any]) -> None:
        pass

    def due(self) -> bool:
        return False

    def flush(self) -> None:
        pass


class Model:
    """Calls the tool once, then answers."""

    def stream_chat(self, upstream: str, request: ChatRequest):
        if any(m.role == "tool" for m in request.messages):
            yield TextDelta("the secret answer")
            yield Finished("stop", Usage(prompt_tokens=9, completion_tokens=3))
            return
        call = {"id": "call_1", "type": "function", "function": {"name": "s__lookup", "arguments": '{"q": "hush"}'}}
        yield Finished("tool_calls", Usage(prompt_tokens=5, completion_tokens=2), [call])


class Tools:
    async def __aenter__(self) -> Tools:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        pass

    def offered(self) -> list[dict[str, Any]]:
        return [{"type": "function", "function": {"name": "s__lookup", "parameters": {"type": "object"}}}]

    def owns(self, name: str) -> bool:
        return name == "s__lookup"

    async def call(self, name: str, arguments: str) -> ToolOutcome:
        return ToolOutcome("s", "lookup", {"q": "hush"}, "a secret result", is_error=True)


def test_a_run_s_spans_are_named_and_attributed_by_the_conventions(exporter):
    exporter.clear()
    request = ChatRequest.model_validate({"model": "m", "messages": [{"role": "user", "content": "a secret prompt"}]})

    def turn(current: ChatRequest) -> tuple[str, Finished]:
        return stream_turn(Model(), "up-1", current, Log(), 2**62, "openai")

    loop = run_tool_loop(Tools(), request, turn, lambda event: None, lambda: None, 3, 2**62)
    assert loop.text == "the secret answer"
    spans = exporter.get_finished_spans()
    assert [s.name for s in sorted(spans, key=lambda s: s.start_time)] == [
        "chat up-1",
        "execute_tool s__lookup",
        "chat up-1",
    ]
    for span in spans:
        attributes = dict(span.attributes)
        assert {key for key in attributes if key.startswith("gen_ai.")} <= NAMES
        assert attributes[GEN_AI.GEN_AI_OPERATION_NAME] in OPERATIONS
        assert span.name.startswith(f"{attributes[GEN_AI.GEN_AI_OPERATION_NAME]} ")
        assert all("secret" not in str(value) and "hush" not in str(value) for value in attributes.values())
    first, call, second = sorted(spans, key=lambda s: s.start_time)
    assert first.attributes[GEN_AI.GEN_AI_RESPONSE_FINISH_REASONS] == ("tool_calls",)
    assert second.attributes[GEN_AI.GEN_AI_USAGE_INPUT_TOKENS] == 9
    assert second.attributes[GEN_AI.GEN_AI_USAGE_OUTPUT_TOKENS] == 3
    assert call.attributes[GEN_AI.GEN_AI_TOOL_CALL_ID] == "call_1"
    assert not call.status.is_ok  # the tool's outcome was an error, told to the model

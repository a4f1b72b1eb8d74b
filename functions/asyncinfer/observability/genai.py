"""The spans of a task's model calls and tool calls, named and attributed by OpenTelemetry's GenAI semantic
conventions (`tracing.GEN_AI`, pinned): the operation, the model, the provider, token counts, finish reasons,
a tool's name and call id. Never a prompt, an output, a tool's arguments or its result."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE
from opentelemetry.trace import Span, SpanKind, StatusCode

from asyncinfer.domain.catalog import BedrockConfig, ModelRegistry, ModelSpec, OpenAIConfig
from asyncinfer.domain.model import Usage
from asyncinfer.observability import tracing
from asyncinfer.observability.tracing import GEN_AI

CHAT = GEN_AI.GenAiOperationNameValues.CHAT.value
GENERATE_CONTENT = GEN_AI.GenAiOperationNameValues.GENERATE_CONTENT.value
EMBEDDINGS = GEN_AI.GenAiOperationNameValues.EMBEDDINGS.value
EXECUTE_TOOL = GEN_AI.GenAiOperationNameValues.EXECUTE_TOOL.value
# The offline demo models (the registry's "local" provider): no well-known name fits, so ours.
DEMO = "asyncinfer.demo"


def provider_name(registry: ModelRegistry, spec: ModelSpec) -> str:
    """`gen_ai.provider.name` of a model: by the API its provider speaks."""
    config = registry.provider_config(spec)
    if isinstance(config, BedrockConfig):
        return GEN_AI.GenAiProviderNameValues.AWS_BEDROCK.value
    if isinstance(config, OpenAIConfig):
        return GEN_AI.GenAiProviderNameValues.OPENAI.value
    return DEMO


@contextmanager
def model_call(operation: str, model: str, provider: str | None) -> Iterator[Span]:
    """One call to a model, `{operation} {model}` (e.g. "chat gpt-4o"), under the current span."""
    attributes = {
        GEN_AI.GEN_AI_OPERATION_NAME: operation,
        GEN_AI.GEN_AI_REQUEST_MODEL: model,
        GEN_AI.GEN_AI_PROVIDER_NAME: provider,
    }
    with tracing.span(f"{operation} {model}", kind=SpanKind.CLIENT, attributes=attributes) as current:
        yield current


def answered(current: Span, usage: Usage, finish_reasons: Sequence[str] = ()) -> None:
    """What a model call used, and why it stopped."""
    current.set_attribute(GEN_AI.GEN_AI_USAGE_INPUT_TOKENS, usage.prompt_tokens)
    current.set_attribute(GEN_AI.GEN_AI_USAGE_OUTPUT_TOKENS, usage.completion_tokens)
    if finish_reasons:
        current.set_attribute(GEN_AI.GEN_AI_RESPONSE_FINISH_REASONS, list(finish_reasons))


@contextmanager
def tool_call(name: str, call_id: str | None) -> Iterator[Span]:
    """One tool call the model asked for, `execute_tool {name}`, under the current span. An MCP call made in it
    sends its trace to the server (asyncinfer.tools.mcp)."""
    attributes = {
        GEN_AI.GEN_AI_OPERATION_NAME: EXECUTE_TOOL,
        GEN_AI.GEN_AI_TOOL_NAME: name,
        GEN_AI.GEN_AI_TOOL_CALL_ID: call_id,
    }
    with tracing.span(f"{EXECUTE_TOOL} {name}", attributes=attributes) as current:
        yield current


def tool_failed(current: Span) -> None:
    """A call whose outcome is an error (told to the model, not raised): the span says so, not what it said."""
    current.set_attribute(ERROR_TYPE, "tool_error")
    current.set_status(StatusCode.ERROR)

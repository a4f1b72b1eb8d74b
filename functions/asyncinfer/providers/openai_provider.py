"""The `openai` provider: the official OpenAI SDK against any OpenAI-compatible base URL."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from typing import Any

import openai

from asyncinfer.domain.generation import parse_media_config
from asyncinfer.domain.model import TaskKind, Usage
from asyncinfer.domain.requests import ChatRequest
from asyncinfer.providers.base import ChatChunk, Finished, MediaFile, ProviderError, TextDelta, count_tokens

# Parameters the SDK takes by name; any other field of the request goes to the server as extra body.
NAMED = frozenset(
    {
        "frequency_penalty",
        "logit_bias",
        "logprobs",
        "max_completion_tokens",
        "max_tokens",
        "n",
        "parallel_tool_calls",
        "presence_penalty",
        "reasoning_effort",
        "response_format",
        "seed",
        "stop",
        "temperature",
        "tool_choice",
        "tools",
        "top_logprobs",
        "top_p",
        "user",
    }
)
# Ours, or other surfaces' bookkeeping: never sent upstream (`service_tier` and `priority` choose the lane a task waits
# in here; an upstream's own tiers are the registry's business, not each request's; the deadlines are kept here).
OURS = frozenset(
    {
        "model",
        "messages",
        "stream",
        "stream_options",
        "correlation_id",
        "priority",
        "service_tier",
        "start_timeout",
        "execution_timeout",
        "mcp_servers",
        "tool_context",
    }
)
# PrivateGPT options with no OpenAI meaning; dropped rather than rejected by strict servers.
UNMAPPED = frozenset({"system", "thinking"})


def classify(exc: Exception) -> ProviderError:
    """Throttling, 5xx, timeouts and connection errors come back later; other 4xx fail the task."""
    if isinstance(exc, openai.APITimeoutError):
        return ProviderError("provider_timeout", "The model provider did not answer in time", retryable=True)
    if isinstance(exc, openai.APIConnectionError):
        return ProviderError("provider_unreachable", f"Cannot reach the model provider: {exc}", retryable=True)
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        message = _message(exc)
        if status == 429:
            return ProviderError("provider_throttled", message, retryable=True)
        if status >= 500:
            return ProviderError("provider_error", message, retryable=True)
        if status in (401, 403):
            return ProviderError("provider_auth", message, retryable=False)
        return ProviderError("provider_rejected", message, retryable=False)
    return ProviderError("provider_error", str(exc), retryable=True)


def _message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return error["message"]
    return exc.message


def request_params(request: ChatRequest) -> dict[str, Any]:
    body = request.model_dump(mode="json", exclude_none=True)
    params: dict[str, Any] = {"messages": body["messages"]}
    extra: dict[str, Any] = {}
    for name, value in body.items():
        if name in OURS or name in UNMAPPED:
            continue
        (params if name in NAMED else extra)[name] = value
    if extra:
        params["extra_body"] = extra
    return params


def _usage(raw: Any, request: ChatRequest, content: str) -> Usage:
    if raw is None:  # a server that reports none: a word count stands in
        prompt = sum(count_tokens(m.text()) for m in request.messages)
        completion = count_tokens(content)
        return Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)
    return Usage(
        prompt_tokens=raw.prompt_tokens or 0,
        completion_tokens=raw.completion_tokens or 0,
        total_tokens=raw.total_tokens or (raw.prompt_tokens or 0) + (raw.completion_tokens or 0),
    )


class OpenAIProvider:
    def __init__(self, client_factory: Callable[[], openai.OpenAI], *, stream: bool = True) -> None:
        # Built on first use: the key may come from Secrets Manager, which a task that never runs need not read.
        self._factory = client_factory
        self._client: openai.OpenAI | None = None
        self._stream = stream

    @property
    def client(self) -> openai.OpenAI:
        if self._client is None:
            self._client = self._factory()
        return self._client

    def stream_chat(self, upstream_model: str, request: ChatRequest) -> Iterator[ChatChunk]:
        params = request_params(request)
        if not self._stream:
            yield from self._whole(upstream_model, request, params)
            return
        try:
            stream = self.client.chat.completions.create(
                model=upstream_model, stream=True, stream_options={"include_usage": True}, **params
            )
        except openai.OpenAIError as exc:
            raise classify(exc) from exc
        parts: list[str] = []
        calls: dict[int, dict[str, Any]] = {}
        finish_reason = "stop"
        usage = None
        try:
            for chunk in stream:
                if chunk.usage is not None:
                    usage = chunk.usage
                for choice in chunk.choices:
                    delta = choice.delta
                    if delta.content:
                        parts.append(delta.content)
                        yield TextDelta(delta.content)
                    for call in delta.tool_calls or []:
                        entry = calls.setdefault(
                            call.index, {"id": None, "type": "function", "function": {"name": "", "arguments": ""}}
                        )
                        if call.id:
                            entry["id"] = call.id
                        if call.function and call.function.name:
                            entry["function"]["name"] += call.function.name
                        if call.function and call.function.arguments:
                            entry["function"]["arguments"] += call.function.arguments
                    if choice.finish_reason:
                        finish_reason = choice.finish_reason
        except openai.OpenAIError as exc:
            raise classify(exc) from exc
        finally:
            stream.close()  # also when the worker stops early: the upstream request is aborted
        yield Finished(
            finish_reason=finish_reason,
            usage=_usage(usage, request, "".join(parts)),
            tool_calls=[calls[i] for i in sorted(calls)] or None,
        )

    def _whole(self, upstream_model: str, request: ChatRequest, params: dict[str, Any]) -> Iterator[ChatChunk]:
        try:
            response = self.client.chat.completions.create(model=upstream_model, **params)
        except openai.OpenAIError as exc:
            raise classify(exc) from exc
        choice = response.choices[0]
        content = choice.message.content or ""
        if content:
            yield TextDelta(content)
        tool_calls = [c.model_dump(mode="json", exclude_none=True) for c in choice.message.tool_calls or []]
        yield Finished(
            finish_reason=choice.finish_reason or "stop",
            usage=_usage(response.usage, request, content),
            tool_calls=tool_calls or None,
        )

    def generate(self, upstream_model: str, kind: TaskKind, config: dict[str, Any]) -> Iterator[MediaFile]:
        if kind != TaskKind.IMAGE:
            raise ProviderError("unsupported_kind", f"The openai provider makes no {kind.value}", retryable=False)
        parsed = parse_media_config(kind.value, config)
        width, height = parsed.size()  # type: ignore[union-attr]
        try:
            response = self.client.images.generate(
                model=upstream_model,
                prompt=parsed.prompt,
                n=parsed.num_images,  # type: ignore[union-attr]
                size=f"{width}x{height}",
                response_format="b64_json",
            )
        except openai.OpenAIError as exc:
            raise classify(exc) from exc
        for image in response.data or []:
            if not image.b64_json:
                raise ProviderError("provider_error", "The image came back without data", retryable=True)
            yield MediaFile(
                body=base64.b64decode(image.b64_json), content_type="image/png", extension="png", file_type="image"
            )


def client_factory(base_url: str | None, api_key: Callable[[], str | None], timeout: float, retries: int):
    def build() -> openai.OpenAI:
        # Local servers (Ollama, vLLM) take any key; the SDK insists on one.
        return openai.OpenAI(base_url=base_url, api_key=api_key() or "unused", timeout=timeout, max_retries=retries)

    return build

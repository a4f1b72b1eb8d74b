"""The `bedrock` provider: Converse / ConverseStream for chat, InvokeModel for Amazon Nova Canvas and
Titan Image Generator images."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, ReadTimeoutError

from asyncinfer.domain.generation import ImageConfig, parse_media_config
from asyncinfer.domain.model import TaskKind, Usage
from asyncinfer.domain.requests import ChatRequest
from asyncinfer.providers.base import ChatChunk, Finished, MediaFile, ProviderError, TextDelta

RETRYABLE = frozenset(
    {
        "ThrottlingException",
        "ServiceUnavailableException",
        "InternalServerException",
        "ModelTimeoutException",
        "ModelNotReadyException",
        "ModelStreamErrorException",
        "ServiceQuotaExceededException",
    }
)
FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "tool_use": "tool_calls",
    "max_tokens": "length",
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
}


def classify(exc: Exception) -> ProviderError:
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        code = code[:1].upper() + code[1:]  # errors inside a stream are spelled throttlingException, ...
        message = exc.response.get("Error", {}).get("Message") or str(exc)
        if code in RETRYABLE:
            return ProviderError(
                "provider_throttled" if "Throttl" in code else "provider_error", message, retryable=True
            )
        if code == "AccessDeniedException":
            return ProviderError("provider_auth", message, retryable=False)
        return ProviderError("provider_rejected", message, retryable=False)
    if isinstance(exc, ReadTimeoutError):
        return ProviderError("provider_timeout", "The model provider did not answer in time", retryable=True)
    if isinstance(exc, ConnectionError | BotoCoreError):
        return ProviderError("provider_unreachable", f"Cannot reach the model provider: {exc}", retryable=True)
    return ProviderError("provider_error", str(exc), retryable=True)


def invoke_json(client: Any, upstream_model: str, body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """InvokeModel with a JSON body: the model's JSON answer, and the response's headers (lower-cased: Bedrock
    counts some models' tokens there); AWS's errors as provider errors."""
    try:
        response = client.invoke_model(
            modelId=upstream_model, body=json.dumps(body), contentType="application/json", accept="application/json"
        )
        answer = json.loads(response["body"].read())
    except (ClientError, BotoCoreError) as exc:
        raise classify(exc) from exc
    headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    return answer, {name.lower(): value for name, value in headers.items()}


def _text_blocks(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"text": content}] if content else []
    return [{"text": part["text"]} for part in content or [] if part.get("type") == "text" and part.get("text")]


def converse_params(upstream_model: str, request: ChatRequest) -> dict[str, Any]:
    """An OpenAI-style chat request as Converse takes it: system apart, roles alternating, tool calls and
    results as toolUse / toolResult blocks."""
    body = request.model_dump(mode="json", exclude_none=True)
    system: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []
    for message in body["messages"]:
        role = message["role"]
        if role in ("system", "developer"):
            system += _text_blocks(message.get("content"))
            continue
        if role == "tool":
            blocks = [
                {
                    "toolResult": {
                        "toolUseId": message.get("tool_call_id", ""),
                        "content": _text_blocks(message.get("content")) or [{"text": ""}],
                    }
                }
            ]
            role = "user"
        else:
            blocks = _text_blocks(message.get("content"))
            for call in message.get("tool_calls") or []:
                arguments = call.get("function", {}).get("arguments") or "{}"
                blocks.append(
                    {
                        "toolUse": {
                            "toolUseId": call.get("id", ""),
                            "name": call.get("function", {}).get("name", ""),
                            "input": json.loads(arguments),
                        }
                    }
                )
        if messages and messages[-1]["role"] == role:
            messages[-1]["content"] += blocks  # Converse wants user and assistant turns to alternate
        else:
            messages.append({"role": role, "content": blocks})
    params: dict[str, Any] = {"modelId": upstream_model, "messages": messages}
    if system:
        params["system"] = system
    inference: dict[str, Any] = {}
    for ours, theirs in (("max_tokens", "maxTokens"), ("temperature", "temperature"), ("top_p", "topP")):
        if ours in body:
            inference[theirs] = body[ours]
    if "stop" in body:
        inference["stopSequences"] = [body["stop"]] if isinstance(body["stop"], str) else body["stop"]
    if inference:
        params["inferenceConfig"] = inference
    tools = body.get("tools")
    if tools and body.get("tool_choice") != "none":
        config: dict[str, Any] = {
            "tools": [
                {
                    "toolSpec": {
                        "name": tool["function"]["name"],
                        **(
                            {"description": tool["function"]["description"]}
                            if tool["function"].get("description")
                            else {}
                        ),
                        "inputSchema": {"json": tool["function"].get("parameters", {"type": "object"})},
                    }
                }
                for tool in tools
                if tool.get("type") == "function"
            ]
        }
        choice = body.get("tool_choice")
        if choice == "auto":
            config["toolChoice"] = {"auto": {}}
        elif choice == "required":
            config["toolChoice"] = {"any": {}}
        elif isinstance(choice, dict) and choice.get("function", {}).get("name"):
            config["toolChoice"] = {"tool": {"name": choice["function"]["name"]}}
        params["toolConfig"] = config
    if "top_k" in body:
        params["additionalModelRequestFields"] = {"top_k": body["top_k"]}
    return params


def _usage(raw: dict[str, Any] | None) -> Usage:
    raw = raw or {}
    prompt, completion = raw.get("inputTokens", 0), raw.get("outputTokens", 0)
    return Usage(
        prompt_tokens=prompt, completion_tokens=completion, total_tokens=raw.get("totalTokens", prompt + completion)
    )


def _tool_call(tool_use_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {"id": tool_use_id, "type": "function", "function": {"name": name, "arguments": arguments or "{}"}}


class BedrockProvider:
    def __init__(self, client: Any, *, stream: bool = True) -> None:
        self._client = client
        self._stream = stream

    def stream_chat(self, upstream_model: str, request: ChatRequest) -> Iterator[ChatChunk]:
        params = converse_params(upstream_model, request)
        if not self._stream:
            yield from self._whole(params)
            return
        try:
            response = self._client.converse_stream(**params)
        except (ClientError, BotoCoreError) as exc:
            raise classify(exc) from exc
        stream = response["stream"]
        tools: dict[int, dict[str, str]] = {}
        stop_reason, usage = "end_turn", None
        try:
            for event in stream:
                if "contentBlockStart" in event:
                    start = event["contentBlockStart"]
                    tool = start.get("start", {}).get("toolUse")
                    if tool:
                        tools[start["contentBlockIndex"]] = {"id": tool["toolUseId"], "name": tool["name"], "input": ""}
                elif "contentBlockDelta" in event:
                    block = event["contentBlockDelta"]
                    delta = block["delta"]
                    if delta.get("text"):
                        yield TextDelta(delta["text"])
                    elif "toolUse" in delta:
                        tools[block["contentBlockIndex"]]["input"] += delta["toolUse"].get("input", "")
                elif "messageStop" in event:
                    stop_reason = event["messageStop"]["stopReason"]
                elif "metadata" in event:
                    usage = event["metadata"].get("usage")
        except (ClientError, BotoCoreError) as exc:
            raise classify(exc) from exc
        finally:
            stream.close()
        calls = [_tool_call(t["id"], t["name"], t["input"]) for _, t in sorted(tools.items())]
        yield Finished(finish_reason=FINISH.get(stop_reason, "stop"), usage=_usage(usage), tool_calls=calls or None)

    def _whole(self, params: dict[str, Any]) -> Iterator[ChatChunk]:
        try:
            response = self._client.converse(**params)
        except (ClientError, BotoCoreError) as exc:
            raise classify(exc) from exc
        text, calls = "", []
        for block in response["output"]["message"]["content"]:
            if "text" in block:
                text += block["text"]
            elif "toolUse" in block:
                use = block["toolUse"]
                calls.append(_tool_call(use["toolUseId"], use["name"], json.dumps(use.get("input", {}))))
        if text:
            yield TextDelta(text)
        yield Finished(
            finish_reason=FINISH.get(response.get("stopReason", "end_turn"), "stop"),
            usage=_usage(response.get("usage")),
            tool_calls=calls or None,
        )

    def generate(self, upstream_model: str, kind: TaskKind, config: dict[str, Any]) -> Iterator[MediaFile]:
        if kind != TaskKind.IMAGE:
            raise ProviderError("unsupported_kind", f"The bedrock provider makes no {kind.value}", retryable=False)
        parsed = parse_media_config(kind.value, config)
        assert isinstance(parsed, ImageConfig)
        width, height = parsed.size()
        generation: dict[str, Any] = {
            "numberOfImages": parsed.num_images,
            "width": width,
            "height": height,
            "cfgScale": parsed.guidance_scale,
        }
        if parsed.seed is not None:
            generation["seed"] = parsed.seed
        body = {
            "taskType": "TEXT_IMAGE",
            "textToImageParams": {"text": parsed.prompt},
            "imageGenerationConfig": generation,
        }
        answer, _ = invoke_json(self._client, upstream_model, body)
        if answer.get("error"):
            raise ProviderError("provider_rejected", str(answer["error"]), retryable=False)
        for image in answer.get("images", []):
            yield MediaFile(body=base64.b64decode(image), content_type="image/png", extension="png", file_type="image")

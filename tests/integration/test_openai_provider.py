"""The `openai` provider driven through the official SDK against a real local HTTP server."""

import io

import pytest
from PIL import Image

from asyncinfer.domain.ids import parse_any
from asyncinfer.domain.model import TaskKind
from asyncinfer.domain.requests import ChatRequest
from asyncinfer.handlers import shared, worker
from asyncinfer.providers.base import Finished, ProviderError, TextDelta
from asyncinfer.providers.openai_provider import OpenAIProvider, client_factory
from tests.support.models_file import serve_models
from tests.support.openai_server import USAGE, WORDS, OpenAIServer

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server():
    with OpenAIServer() as running:
        yield running


def provider(server, *, stream=True, timeout=10.0, retries=2, key="sk-test"):
    return OpenAIProvider(client_factory(server.base_url, lambda: key, timeout, retries), stream=stream)


def chat(model="m", **extra):
    return ChatRequest.model_validate({"model": model, "messages": [{"role": "user", "content": "hi"}], **extra})


def run(p, upstream, request):
    chunks = list(p.stream_chat(upstream, request))
    text = "".join(c.text for c in chunks if isinstance(c, TextDelta))
    (finished,) = [c for c in chunks if isinstance(c, Finished)]
    return chunks, text, finished


def test_streaming_deltas_usage_and_what_is_sent(server):
    request = chat(temperature=0.2, top_k=40, min_p=0.05, correlation_id="c-1", priority=3, max_tokens=50)
    chunks, text, finished = run(provider(server), "stream-ok", request)
    assert text == "".join(WORDS)
    assert len([c for c in chunks if isinstance(c, TextDelta)]) == len(WORDS)  # delta by delta, as produced
    assert finished.finish_reason == "stop"
    assert finished.usage.model_dump(exclude_none=True) == USAGE
    sent = server.recorded.requests[-1]
    assert sent["_path"] == "/v1/chat/completions" and sent["_auth"] == "Bearer sk-test"
    assert sent["model"] == "stream-ok" and sent["stream"] is True
    assert sent["stream_options"] == {"include_usage": True}
    assert (sent["temperature"], sent["max_tokens"]) == (0.2, 50)
    # Unknown sampling fields go along as extra body; our bookkeeping never leaves.
    assert (sent["top_k"], sent["min_p"]) == (40, 0.05)
    assert "correlation_id" not in sent and "priority" not in sent


def test_non_streaming_server(server):
    _, text, finished = run(provider(server, stream=False), "whole", chat())
    assert text == "".join(WORDS) and finished.usage.total_tokens == 18
    assert "stream" not in server.recorded.requests[-1] or server.recorded.requests[-1]["stream"] is False


@pytest.mark.parametrize("stream", [True, False])
def test_tool_calls_and_tools_sent(server, stream):
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    request = chat(tools=tools, tool_choice="auto", response_format={"type": "text"})
    _, text, finished = run(provider(server, stream=stream), "tools", request)
    assert text == ""
    assert finished.finish_reason == "tool_calls"
    assert finished.tool_calls == [
        {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}
    ]
    sent = server.recorded.requests[-1]
    assert sent["tools"] == tools and sent["tool_choice"] == "auto" and sent["response_format"] == {"type": "text"}


def test_429_then_success_is_retried_with_backoff_by_the_sdk(server):
    _, text, _ = run(provider(server, retries=2), "flaky", chat())
    assert text == "".join(WORDS)
    assert server.recorded.calls_by_model["flaky"] == 2


def test_throttling_and_5xx_beyond_the_sdk_retries_are_retryable(server):
    with pytest.raises(ProviderError) as err:
        run(provider(server, retries=0), "down", chat())
    assert err.value.retryable and err.value.code == "provider_error"


def test_a_400_fails_for_good_with_the_providers_message(server):
    with pytest.raises(ProviderError) as err:
        run(provider(server), "bad", chat())
    assert not err.value.retryable
    assert err.value.code == "provider_rejected"
    assert err.value.message == "Invalid 'temperature': must be <= 2"


def test_a_slow_server_hits_the_timeout_and_is_retryable(server):
    with pytest.raises(ProviderError) as err:
        run(provider(server, timeout=0.5, retries=0), "slow", chat())
    assert err.value.retryable and err.value.code == "provider_timeout"


def test_an_unreachable_server_is_retryable():
    p = OpenAIProvider(client_factory("http://127.0.0.1:9/v1", lambda: None, 2, 0))
    with pytest.raises(ProviderError) as err:
        run(p, "m", chat())
    assert err.value.retryable and err.value.code == "provider_unreachable"


def test_image_generation_returns_real_pngs(server):
    files = list(provider(server).generate("gpt-image", TaskKind.IMAGE, {"prompt": "a cup", "num_images": 2}))
    assert len(files) == 2
    image = Image.open(io.BytesIO(files[0].body))
    assert (image.format, image.size) == ("PNG", (1024, 768))
    sent = server.recorded.requests[-1]
    assert (sent["_path"], sent["size"], sent["n"], sent["response_format"]) == (
        "/v1/images/generations",
        "1024x768",
        2,
        "b64_json",
    )


def test_a_registry_model_on_the_server_completes_with_exact_usage_and_cost(aws, server, tmp_path, monkeypatch):
    registry = {
        "version": 1,
        "providers": {"compat": {"type": "openai", "base_url": server.base_url, "api_key": {"env": "COMPAT_KEY"}}},
        "models": {
            "house-model": {
                "provider": "compat",
                "upstream": "stream-ok",
                "kind": "chat",
                "prices": {"input_per_million": 2.5, "output_per_million": 10, "per_request": 0.001},
            },
            "house-image": {
                "provider": "compat",
                "upstream": "gpt-image",
                "kind": "image",
                "prices": {"per_image": 0.04},
            },
        },
    }
    serve_models(registry, tmp_path, monkeypatch)
    monkeypatch.setenv("COMPAT_KEY", "sk-from-env")
    shared.service.cache_clear()
    worker.runtime.cache_clear()

    _, created = aws.api(
        "POST", "/v1/async", body={"model": "house-model", "messages": [{"role": "user", "content": "hi"}]}
    )
    _, image = aws.api(
        "POST",
        "/v1/generation",
        body={"model": "house-image", "config": {"prompt": "x", "num_images": 3}},
        function="api_netmind",
    )
    aws.run_worker()
    task = aws.store.get("acme", parse_any(created["id"]))
    assert task.status == "COMPLETED"
    assert task.result["choices"][0]["message"]["content"] == "".join(WORDS)
    cost = task.usage.cost
    assert cost.input_tokens_cost == 12 * 2.5 / 1e6
    assert cost.output_tokens_cost == 6 * 10 / 1e6
    assert cost.request_cost == 0.001
    assert cost.total_cost == round(12 * 2.5 / 1e6 + 6 * 10 / 1e6 + 0.001, 8)
    (sent,) = [r for r in server.recorded.requests if r["model"] == "stream-ok" and r["_auth"] == "Bearer sk-from-env"]
    assert sent["messages"] == [{"role": "user", "content": "hi"}]
    media = aws.store.get("acme", image["id"])
    assert media.status == "COMPLETED" and len(media.outputs) == 3
    assert media.usage.images == 3 and media.usage.cost.media_cost == 0.12 and media.usage.cost.total_cost == 0.12
    events = aws.store.read_events("acme", task.id)
    assert "".join(e["text"] for e in events if e["type"] == "delta") == "".join(WORDS)

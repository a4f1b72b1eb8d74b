import uuid

import pytest

from asyncinfer.domain.requests import parse_chat_request
from asyncinfer.providers.base import Finished, ProviderError, TextDelta
from asyncinfer.providers.demo.chat import DemoChatProvider, demo_answer


def run(body):
    chunks = list(DemoChatProvider(seconds=0).stream_chat("demo-chat", parse_chat_request(body)))
    return "".join(c.text for c in chunks if isinstance(c, TextDelta)), chunks[-1]


def test_answer_is_deterministic_and_about_the_prompt():
    body = {"model": "demo-chat", "messages": [{"role": "user", "content": "Tell me about tides"}]}
    text, final = run(body)
    assert text == run(body)[0] == demo_answer("demo-chat", "Tell me about tides")
    assert "Tell me about tides" in text
    assert isinstance(final, Finished)
    assert final.finish_reason == "stop"
    assert final.usage.completion_tokens == len(text.split())
    assert final.usage.prompt_tokens == 4
    assert final.usage.total_tokens == final.usage.prompt_tokens + final.usage.completion_tokens


def test_max_tokens_truncates_with_reason_length():
    text, final = run({"model": "demo-chat", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]})
    assert len(text.split()) == 5
    assert final.finish_reason == "length"
    assert final.usage.completion_tokens == 5


def test_closing_the_stream_stops_generation():
    provider = DemoChatProvider(seconds=0)
    stream = provider.stream_chat(
        "demo-chat", parse_chat_request({"model": "demo-chat", "messages": [{"role": "user", "content": "x"}]})
    )
    first = next(stream)
    stream.close()
    assert isinstance(first, TextDelta)
    assert list(stream) == []


def test_the_fail_once_model_fails_a_prompt_the_first_time_only():
    prompt = f"retry me {uuid.uuid4().hex}"
    body = {"model": "demo-fail-once", "messages": [{"role": "user", "content": prompt}]}
    provider = DemoChatProvider(seconds=0)
    with pytest.raises(ProviderError) as failed:
        list(provider.stream_chat("demo-fail-once", parse_chat_request(body)))
    assert failed.value.code == "model_error" and not failed.value.retryable
    chunks = list(provider.stream_chat("demo-fail-once", parse_chat_request(body)))
    assert isinstance(chunks[-1], Finished) and prompt in "".join(c.text for c in chunks if isinstance(c, TextDelta))

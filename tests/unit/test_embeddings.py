"""The embedding kind: the demo embedder's vectors, an embeddings body checked against its model, the
registry's rules for embedding models, the provider factory's embedders, and OpenAI's answer shape."""

from __future__ import annotations

import base64
import json
import math
import struct

import httpx
import openai
import pytest
from pydantic import ValidationError

from asyncinfer.domain.catalog import ModelRegistry
from asyncinfer.domain.embeddings import embeddings_response, prepare_embedding
from asyncinfer.domain.errors import InvalidRequest, UnknownModel
from asyncinfer.domain.model import TaskKind
from asyncinfer.domain.ssrf import DEFAULT_OUTBOUND
from asyncinfer.domain.submission import SubmitLimits
from asyncinfer.providers.base import ProviderError
from asyncinfer.providers.demo.embed import DemoEmbedder, demo_vector
from asyncinfer.providers.factory import Providers
from asyncinfer.providers.openai_embed import OpenAIEmbedder
from asyncinfer.providers.registry import load_registry
from asyncinfer.tasks.preparing import Preparing

LIMITS = SubmitLimits(max_request_bytes=1 << 20, inline_request_bytes=1 << 16, retention_days=1)
REGISTRY = ModelRegistry.model_validate(
    {
        "version": 1,
        "providers": {"up": {"type": "openai", "base_url": "http://127.0.0.1:9/v1"}, "br": {"type": "bedrock"}},
        "models": {
            "demo-chat": {"provider": "local", "upstream": "demo-chat", "kind": "chat"},
            "demo-embed": {
                "provider": "local",
                "upstream": "demo-embed",
                "kind": "embedding",
                "dimensions": 256,
                "max_input_tokens": 5,
            },
            "titan": {
                "provider": "br",
                "upstream": "amazon.titan-embed-text-v2:0",
                "kind": "embedding",
                "dimensions": 1024,
                "dimension_choices": [256, 512, 1024],
            },
            "small": {"provider": "up", "upstream": "text-embedding-3-small", "kind": "embedding", "dimensions": 1536},
        },
    }
)


def prepare(body: dict):
    return prepare_embedding(REGISTRY, LIMITS, body)


def refusal(body: dict) -> str:
    with pytest.raises(InvalidRequest) as err:
        prepare(body)
    return err.value.message


def test_the_demo_embedder_is_deterministic_normalised_and_of_the_asked_length():
    embedder = DemoEmbedder(256)
    found = embedder.embed("demo-embed", ["The quick brown fox", "the QUICK brown fox", "a lazy dog"], None)
    assert [len(v) for v in found.vectors] == [256, 256, 256]
    for vector in found.vectors:
        assert math.isclose(math.sqrt(sum(x * x for x in vector)), 1.0, rel_tol=1e-12)
    assert found.vectors[0] == found.vectors[1]  # words are case-folded
    assert found.vectors[0] != found.vectors[2]
    assert found.prompt_tokens == 4 + 4 + 3  # whitespace words, as the demo chat model counts
    assert embedder.embed("demo-embed", ["The quick brown fox"], None).vectors[0] == found.vectors[0]
    assert len(embedder.embed("demo-embed", ["x"], 64).vectors[0]) == 64


def test_texts_sharing_words_are_closer_than_texts_sharing_none():
    def cosine(a: str, b: str) -> float:
        return sum(x * y for x, y in zip(demo_vector(a, 256), demo_vector(b, 256), strict=True))

    assert cosine("red apple pie", "red apple tart") > cosine("red apple pie", "blue ocean wave") + 0.3


def test_an_embeddings_body_is_prepared_as_an_embedding_task():
    ready = prepare({"model": "demo-embed", "input": ["a b", "c"], "dimensions": 128, "user": "u-1"})
    assert (ready.kind, ready.model) == (TaskKind.EMBEDDING, "demo-embed")
    assert ready.request == {
        "model": "demo-embed",
        "input": ["a b", "c"],
        "dimensions": 128,
        "encoding_format": "float",
        "user": "u-1",
    }


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"input": "hi", "dimensions": 257}, "dimensions 257 exceeds 256, the length of demo-embed's vectors"),
        ({"model": "titan", "input": "hi", "dimensions": 300}, "dimensions 300 is not offered by titan"),
        ({"input": [1, 2, 3]}, "input: token arrays are not supported"),
        ({"input": [[1, 2], [3]]}, "input: token arrays are not supported"),
        ({"input": "hi", "encoding_format": "int8"}, "encoding_format"),
        ({"input": "hi", "truncate": "END"}, "truncate"),
        ({"input": "   "}, "input: an input must not be empty"),
        ({"input": ["ok", ""]}, "input.1: an input must not be empty"),
        ({"input": []}, "input"),
        ({"input": "one two three four five six"}, "input.0 is longer than 5 tokens, demo-embed's limit"),
        ({"input": "hi", "dimensions": True}, "dimensions"),
    ],
)
def test_an_embeddings_body_the_model_cannot_honour_is_refused_naming_the_field(body, says):
    assert says in refusal({"model": "demo-embed", **body})


def test_a_model_of_another_kind_is_refused_naming_the_model_and_its_kind():
    with pytest.raises(UnknownModel, match="'demo-chat' is a chat model, not an embedding model; embedding models"):
        prepare({"model": "demo-chat", "input": "hi"})
    with pytest.raises(UnknownModel, match="Unknown embedding model 'nope'"):
        prepare({"model": "nope", "input": "hi"})


def test_an_embedding_model_on_a_chat_or_generation_submit_is_refused_naming_its_kind():
    class Service(Preparing):
        registry = REGISTRY
        limits = LIMITS
        outbound = DEFAULT_OUTBOUND

    chat = {"model": "demo-embed", "messages": [{"role": "user", "content": "hi"}]}
    with pytest.raises(UnknownModel, match="'demo-embed' is an embedding model, not a chat model"):
        Service().prepare_chat(chat)
    with pytest.raises(UnknownModel, match="'demo-embed' is an embedding model, not an image, audio or video model"):
        Service().prepare_generation({"model": "demo-embed", "config": {"prompt": "a fox"}})


def test_the_registry_requires_an_embedding_models_dimensions_and_keeps_them_off_other_kinds():
    def registry(spec: dict) -> ModelRegistry:
        return ModelRegistry.model_validate(
            {"version": 1, "models": {"m": {"provider": "local", "upstream": "x", **spec}}}
        )

    with pytest.raises(ValidationError, match="gives its vectors' length in `dimensions`"):
        registry({"kind": "embedding"})
    with pytest.raises(ValidationError, match="for embedding models only"):
        registry({"kind": "chat", "dimensions": 8})
    with pytest.raises(ValidationError, match="must include the model's own"):
        registry({"kind": "embedding", "dimensions": 1024, "dimension_choices": [256, 512]})
    shipped = load_registry().models["demo-embed"]
    assert (shipped.kind, shipped.dimensions) == (TaskKind.EMBEDDING, 256)


def test_the_factory_gives_each_embedding_model_its_embedder():
    providers = Providers(REGISTRY, bedrock_client=lambda config: object())
    demo = providers(REGISTRY.models["demo-embed"])
    assert isinstance(demo, DemoEmbedder) and len(demo.embed("d", ["x"], None).vectors[0]) == 256
    assert isinstance(providers(REGISTRY.models["small"]), OpenAIEmbedder)
    titan = providers(REGISTRY.models["titan"])
    assert type(titan).__name__ == "BedrockEmbedder"
    assert providers(REGISTRY.models["demo-chat"]) is not demo


def test_the_answer_is_openais_embeddings_response_in_float_or_base64():
    vectors = [[0.5, -0.25], [1.0, 0.0]]
    answer = embeddings_response("demo-embed", vectors, 7)
    assert answer == {
        "object": "list",
        "data": [
            {"object": "embedding", "index": 0, "embedding": [0.5, -0.25]},
            {"object": "embedding", "index": 1, "embedding": [1.0, 0.0]},
        ],
        "model": "demo-embed",
        "usage": {"prompt_tokens": 7, "total_tokens": 7},
    }
    packed = embeddings_response("demo-embed", vectors, 7, "base64")["data"][0]["embedding"]
    assert struct.unpack("<2f", base64.b64decode(packed)) == (0.5, -0.25)


def openai_embedder(handler) -> OpenAIEmbedder:
    http = httpx.Client(transport=httpx.MockTransport(handler))
    return OpenAIEmbedder(
        lambda: openai.OpenAI(base_url="http://127.0.0.1:9/v1", api_key="k", http_client=http, max_retries=0)
    )


def test_the_openai_embedder_sends_the_sdks_request_and_orders_the_answer_by_index():
    sent = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append((request.url.path, json.loads(request.content)))
        data = [
            {"object": "embedding", "index": 1, "embedding": [0.0, 1.0]},
            {"object": "embedding", "index": 0, "embedding": [1.0, 0.0]},
        ]
        usage = {"prompt_tokens": 5, "total_tokens": 5}
        return httpx.Response(200, json={"object": "list", "data": data, "model": "m", "usage": usage})

    found = openai_embedder(handler).embed("text-embedding-3-small", ["a", "b"], 2, "u-1")
    assert found.vectors == [[1.0, 0.0], [0.0, 1.0]] and found.prompt_tokens == 5
    path, body = sent[0]
    assert path == "/v1/embeddings"
    assert body == {
        "model": "text-embedding-3-small",
        "input": ["a", "b"],
        "encoding_format": "float",
        "dimensions": 2,
        "user": "u-1",
    }
    openai_embedder(handler).embed("text-embedding-ada-002", ["a", "b"], None)
    assert "dimensions" not in sent[1][1] and "user" not in sent[1][1]


def test_the_openai_embedders_errors_are_classified():
    def throttled(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, json={"error": {"message": "slow down"}})

    def refused(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"error": {"message": "dimensions is not supported"}})

    with pytest.raises(ProviderError) as err:
        openai_embedder(throttled).embed("m", ["a"], None)
    assert (err.value.code, err.value.retryable) == ("provider_throttled", True)
    with pytest.raises(ProviderError) as err:
        openai_embedder(refused).embed("m", ["a"], 8)
    assert (err.value.code, err.value.retryable, err.value.message) == (
        "provider_rejected",
        False,
        "dimensions is not supported",
    )

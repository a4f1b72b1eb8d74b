"""Bedrock embeddings against botocore's Stubber: the exact InvokeModel bodies of Amazon Titan Text
Embeddings V2 and Cohere Embed v3, their answers read back into vectors and token counts, and their errors.
Formats: https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-titan-embed-text.html and
https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-embed-v3.html"""

from __future__ import annotations

import io
import json

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from asyncinfer.providers.base import ProviderError
from asyncinfer.providers.bedrock_embed import BedrockEmbedder

TITAN = "amazon.titan-embed-text-v2:0"
COHERE = "cohere.embed-english-v3"


@pytest.fixture
def bedrock():
    client = boto3.client("bedrock-runtime", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def answer(body: dict, headers: dict | None = None) -> dict:
    raw = json.dumps(body).encode()
    response = {"body": StreamingBody(io.BytesIO(raw), len(raw)), "contentType": "application/json"}
    if headers is not None:
        response["ResponseMetadata"] = {"HTTPStatusCode": 200, "HTTPHeaders": headers}
    return response


def invoked(model: str, body: dict) -> dict:
    return {"modelId": model, "contentType": "application/json", "accept": "application/json", "body": json.dumps(body)}


def test_titan_v2_embeds_each_text_in_its_own_call_with_the_asked_dimensions(bedrock):
    client, stubber = bedrock
    for text, vector, tokens in (("hello world", [0.6, 0.8], 3), ("bye", [1.0, 0.0], 2)):
        stubber.add_response(
            "invoke_model",
            answer({"embedding": vector, "inputTextTokenCount": tokens, "embeddingsByType": {"float": vector}}),
            invoked(TITAN, {"inputText": text, "dimensions": 256, "normalize": True}),
        )
    found = BedrockEmbedder(client).embed(TITAN, ["hello world", "bye"], 256)
    assert found.vectors == [[0.6, 0.8], [1.0, 0.0]]
    assert found.prompt_tokens == 5  # Titan's inputTextTokenCount, summed


def test_titan_v2_without_dimensions_leaves_the_models_default(bedrock):
    client, stubber = bedrock
    stubber.add_response(
        "invoke_model",
        answer({"embedding": [0.1] * 4, "inputTextTokenCount": 1}),
        invoked(TITAN, {"inputText": "hi", "normalize": True}),
    )
    assert BedrockEmbedder(client).embed(TITAN, ["hi"], None).vectors == [[0.1] * 4]


def test_cohere_embeds_up_to_96_texts_a_call_and_counts_tokens_from_bedrocks_header(bedrock):
    client, stubber = bedrock
    texts = [f"text {i}" for i in range(100)]
    for chunk, tokens in ((texts[:96], "400"), (texts[96:], "12")):
        stubber.add_response(
            "invoke_model",
            answer(
                {
                    "id": "abc",
                    "response_type": "embeddings_floats",
                    "texts": chunk,
                    "embeddings": [[float(int(t.split()[1])), 0.5] for t in chunk],
                },
                {"x-amzn-bedrock-input-token-count": tokens},
            ),
            invoked(COHERE, {"texts": chunk, "input_type": "search_document"}),
        )
    found = BedrockEmbedder(client).embed(COHERE, texts, None)
    assert [v[0] for v in found.vectors] == [float(i) for i in range(100)]
    assert found.prompt_tokens == 412


def test_cohere_embeddings_by_type_are_read_and_a_missing_count_falls_back_to_words(bedrock):
    client, stubber = bedrock
    stubber.add_response(
        "invoke_model",
        answer({"id": "abc", "response_type": "embeddings_by_type", "embeddings": {"float": [[0.25, 0.75]]}}),
        invoked(COHERE, {"texts": ["three word text"], "input_type": "search_document"}),
    )
    found = BedrockEmbedder(client).embed(COHERE, ["three word text"], 1024)
    assert found.vectors == [[0.25, 0.75]] and found.prompt_tokens == 3


def test_cohere_refuses_other_dimensions_and_unknown_families_are_refused(bedrock):
    client, _ = bedrock
    with pytest.raises(ProviderError, match="gives 1024 dimensions, not 256") as err:
        BedrockEmbedder(client).embed(COHERE, ["x"], 256)
    assert err.value.retryable is False
    with pytest.raises(ProviderError, match=r"not amazon\.titan-embed-image-v1") as err:
        BedrockEmbedder(client).embed("amazon.titan-embed-image-v1", ["x"], None)
    assert err.value.code == "unsupported_model"


def test_bedrocks_errors_are_classified(bedrock):
    client, stubber = bedrock
    stubber.add_client_error("invoke_model", "ThrottlingException", "Too many requests", 429)
    stubber.add_client_error("invoke_model", "ValidationException", "Malformed input request", 400)
    with pytest.raises(ProviderError) as err:
        BedrockEmbedder(client).embed(TITAN, ["x"], None)
    assert (err.value.code, err.value.retryable) == ("provider_throttled", True)
    with pytest.raises(ProviderError) as err:
        BedrockEmbedder(client).embed(TITAN, ["x"], None)
    assert (err.value.code, err.value.retryable, err.value.message) == (
        "provider_rejected",
        False,
        "Malformed input request",
    )

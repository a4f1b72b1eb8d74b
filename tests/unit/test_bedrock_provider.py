"""The `bedrock` provider against botocore's Stubber: the exact request and response shapes of
Converse, ConverseStream (a real binary event stream) and InvokeModel (Nova Canvas)."""

import base64
import io
import json

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import ANY
from PIL import Image

from asyncinfer.domain.model import TaskKind
from asyncinfer.domain.requests import ChatRequest
from asyncinfer.providers.base import Finished, ProviderError, TextDelta
from asyncinfer.providers.bedrock_provider import BedrockProvider
from asyncinfer.providers.demo.media import render_png
from tests.support.bedrock_stubs import BedrockStubber

MODEL = "anthropic.claude-3-5-haiku-20241022-v1:0"
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather for a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]


@pytest.fixture
def bedrock():
    client = boto3.client("bedrock-runtime", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    with BedrockStubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def conversation(**extra):
    return ChatRequest.model_validate(
        {
            "model": "claude",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Weather in Paris?"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "t1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "t1", "content": "18 C, sunny"},
                {"role": "user", "content": [{"type": "text", "text": "And tomorrow?"}]},
            ],
            **extra,
        }
    )


EXPECTED = {
    "modelId": MODEL,
    "system": [{"text": "Be brief."}],
    "messages": [
        {"role": "user", "content": [{"text": "Weather in Paris?"}]},
        {
            "role": "assistant",
            "content": [{"toolUse": {"toolUseId": "t1", "name": "get_weather", "input": {"city": "Paris"}}}],
        },
        {
            "role": "user",
            "content": [
                {"toolResult": {"toolUseId": "t1", "content": [{"text": "18 C, sunny"}]}},
                {"text": "And tomorrow?"},
            ],
        },
    ],
    "inferenceConfig": {"maxTokens": 200, "temperature": 0.3, "topP": 0.9, "stopSequences": ["END"]},
    "toolConfig": {
        "tools": [
            {
                "toolSpec": {
                    "name": "get_weather",
                    "description": "Weather for a city",
                    "inputSchema": {"json": TOOLS[0]["function"]["parameters"]},
                }
            }
        ],
        "toolChoice": {"auto": {}},
    },
}
REQUEST = {"max_tokens": 200, "temperature": 0.3, "top_p": 0.9, "stop": "END", "tools": TOOLS, "tool_choice": "auto"}


def test_converse_stream_maps_the_request_and_streams_text(bedrock):
    client, stubber = bedrock
    raw = stubber.add_converse_stream(
        [
            {"messageStart": {"role": "assistant"}},
            {"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"text": "Sunny "}}},
            {"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"text": "again."}}},
            {"contentBlockStop": {"contentBlockIndex": 0}},
            {"messageStop": {"stopReason": "end_turn"}},
            {
                "metadata": {
                    "usage": {"inputTokens": 40, "outputTokens": 3, "totalTokens": 43},
                    "metrics": {"latencyMs": 12},
                }
            },
        ],
        EXPECTED,
    )
    chunks = list(BedrockProvider(client).stream_chat(MODEL, conversation(**REQUEST)))
    assert [c.text for c in chunks if isinstance(c, TextDelta)] == ["Sunny ", "again."]
    finished = chunks[-1]
    assert isinstance(finished, Finished) and finished.finish_reason == "stop" and finished.tool_calls is None
    assert (finished.usage.prompt_tokens, finished.usage.completion_tokens, finished.usage.total_tokens) == (40, 3, 43)
    assert raw.closed


def test_converse_stream_tool_use(bedrock):
    client, stubber = bedrock
    stubber.add_converse_stream(
        [
            {"messageStart": {"role": "assistant"}},
            {
                "contentBlockStart": {
                    "contentBlockIndex": 0,
                    "start": {"toolUse": {"toolUseId": "t2", "name": "get_weather"}},
                }
            },
            {"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"toolUse": {"input": '{"city": '}}}},
            {"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"toolUse": {"input": '"Lyon"}'}}}},
            {"contentBlockStop": {"contentBlockIndex": 0}},
            {"messageStop": {"stopReason": "tool_use"}},
            {
                "metadata": {
                    "usage": {"inputTokens": 10, "outputTokens": 5, "totalTokens": 15},
                    "metrics": {"latencyMs": 9},
                }
            },
        ],
        {"modelId": MODEL, "messages": ANY, "system": ANY, "toolConfig": ANY},
    )
    chunks = list(BedrockProvider(client).stream_chat(MODEL, conversation(tools=TOOLS)))
    finished = chunks[-1]
    assert finished.finish_reason == "tool_calls"
    assert finished.tool_calls == [
        {"id": "t2", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Lyon"}'}}
    ]


def test_a_throttle_inside_the_stream_is_retryable(bedrock):
    client, stubber = bedrock
    stubber.add_converse_stream(
        [
            {"messageStart": {"role": "assistant"}},
            {"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"text": "x"}}},
        ],
        {"modelId": MODEL, "messages": ANY, "system": ANY},
        exception=("throttlingException", "Too many tokens"),
    )
    with pytest.raises(ProviderError) as err:
        list(BedrockProvider(client).stream_chat(MODEL, conversation()))
    assert err.value.retryable


def test_converse_whole(bedrock):
    client, stubber = bedrock
    stubber.add_response(
        "converse",
        {
            "output": {"message": {"role": "assistant", "content": [{"text": "Rain."}]}},
            "stopReason": "max_tokens",
            "usage": {"inputTokens": 40, "outputTokens": 1, "totalTokens": 41},
            "metrics": {"latencyMs": 100},
        },
        EXPECTED,
    )
    chunks = list(BedrockProvider(client, stream=False).stream_chat(MODEL, conversation(**REQUEST)))
    assert chunks[0] == TextDelta("Rain.")
    assert chunks[1].finish_reason == "length" and chunks[1].usage.total_tokens == 41


@pytest.mark.parametrize(
    "code, retryable",
    [
        ("ThrottlingException", True),
        ("ServiceUnavailableException", True),
        ("ModelTimeoutException", True),
        ("ValidationException", False),
        ("AccessDeniedException", False),
        ("ResourceNotFoundException", False),
    ],
)
def test_errors_are_classified(bedrock, code, retryable):
    client, stubber = bedrock
    stubber.add_client_error("converse_stream", service_error_code=code, service_message="nope", http_status_code=400)
    with pytest.raises(ProviderError) as err:
        list(BedrockProvider(client).stream_chat(MODEL, conversation()))
    assert err.value.retryable is retryable
    assert err.value.message == "nope"


def test_nova_canvas_images_through_invoke_model(bedrock):
    client, stubber = bedrock
    pngs = [render_png("p", 1024, 768, index=i) for i in range(2)]
    answer = json.dumps({"images": [base64.b64encode(p).decode() for p in pngs], "error": None}).encode()
    stubber.add_response(
        "invoke_model",
        {"body": StreamingBody(io.BytesIO(answer), len(answer)), "contentType": "application/json"},
        {
            "modelId": "amazon.nova-canvas-v1:0",
            "contentType": "application/json",
            "accept": "application/json",
            "body": json.dumps(
                {
                    "taskType": "TEXT_IMAGE",
                    "textToImageParams": {"text": "a lighthouse"},
                    "imageGenerationConfig": {
                        "numberOfImages": 2,
                        "width": 1024,
                        "height": 768,
                        "cfgScale": 6.5,
                        "seed": 7,
                    },
                }
            ),
        },
    )
    config = {"prompt": "a lighthouse", "num_images": 2, "guidance_scale": 6.5, "seed": 7}
    files = list(BedrockProvider(client).generate("amazon.nova-canvas-v1:0", TaskKind.IMAGE, config))
    assert [f.body for f in files] == pngs
    assert Image.open(io.BytesIO(files[0].body)).size == (1024, 768)

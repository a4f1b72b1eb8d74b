import json

import pytest

from asyncinfer.domain.client_json import parse_json_body
from asyncinfer.domain.errors import InvalidJson, InvalidRequest, RequestTooLarge
from asyncinfer.domain.requests import parse_chat_request

GOOD = {"model": "demo-chat", "messages": [{"role": "user", "content": "Hello"}]}


def test_valid_body_keeps_unknown_fields():
    body = {
        **GOOD,
        "temperature": 0.2,
        "custom": {"nested": [1, 2]},
        "mcp_servers": [{"name": "x", "url": "https://mcp.example.com/mcp"}],
    }
    request = parse_chat_request(body)
    dumped = request.model_dump(mode="json", exclude_none=True)
    assert dumped["custom"] == {"nested": [1, 2]}
    assert dumped["temperature"] == 0.2
    assert dumped["mcp_servers"][0]["name"] == "x" and dumped["mcp_servers"][0]["url"] == "https://mcp.example.com/mcp"


def test_content_parts_are_read_as_text():
    request = parse_chat_request(
        {
            "model": "m",
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "a"},
                        {"type": "image_url", "image_url": {"url": "https://x/a.png"}},
                    ],
                }
            ],
        }
    )
    assert request.last_user_text() == "a"


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"messages": GOOD["messages"]}, "model"),
        ({"model": "demo-chat"}, "messages"),
        ({"model": "demo-chat", "messages": []}, "messages"),
        ({"model": 7, "messages": GOOD["messages"]}, "model"),
        ({"model": "demo-chat", "messages": "hi"}, "messages"),
        ({"model": "demo-chat", "messages": [{"role": "robot", "content": "x"}]}, "messages[0]: role is 'robot'"),
        ({"model": "demo-chat", "messages": [{"content": "x"}]}, "messages[0]: role is missing"),
        ({**GOOD, "max_tokens": "10"}, "max_tokens"),
        ({**GOOD, "max_tokens": 0}, "max_tokens"),
        ({**GOOD, "max_tokens": 1.5}, "max_tokens"),
        ({**GOOD, "mcp_servers": {"name": "x"}}, "mcp_servers"),
        ({**GOOD, "mcp_servers": [{"name": "x"}]}, "mcp_servers.0.url"),
        ({**GOOD, "mcp_servers": [{"url": "ftp://files.example.com/x"}]}, "mcp_servers.0.url"),
        ({**GOOD, "mcp_servers": [{"url": "http://169.254.169.254/latest"}]}, "mcp_servers.0.url"),
        ({**GOOD, "mcp_servers": [{"url": "http://[fd00:ec2::254]/"}]}, "mcp_servers.0.url"),
        ({**GOOD, "mcp_servers": [{"url": "http://metadata.google.internal/"}]}, "mcp_servers.0.url"),
        ({**GOOD, "mcp_servers": [{"url": "https://a.example.com", "transport": "stdio"}]}, "mcp_servers.0.transport"),
        ({**GOOD, "mcp_servers": [{"url": "https://a.example.com", "bogus": 1}]}, "mcp_servers.0.bogus"),
        (
            {
                **GOOD,
                "mcp_servers": [
                    {"url": "https://a.example.com", "name": "a"},
                    {"url": "https://b.example.com", "name": "a"},
                ],
            },
            "mcp_servers",
        ),
    ],
)
def test_invalid_bodies_say_where(body, where):
    with pytest.raises(InvalidRequest) as caught:
        parse_chat_request(body)
    assert caught.value.message.startswith(where)
    assert caught.value.code == "invalid_request"


@pytest.mark.parametrize("raw", ["", "   ", "{bad", "[1, 2]", '"text"', b"\xff\xfe"])
def test_non_object_json_is_invalid_json(raw):
    with pytest.raises(InvalidJson) as caught:
        parse_json_body(raw, max_bytes=1024)
    assert caught.value.code == "invalid_json"


def test_oversized_body_is_refused_before_parsing():
    raw = json.dumps({**GOOD, "pad": "x" * 2048})
    with pytest.raises(RequestTooLarge):
        parse_json_body(raw, max_bytes=1024)
    assert parse_json_body(raw, max_bytes=len(raw.encode()))["model"] == "demo-chat"

"""A submit naming a webhook receiver or an MCP server by an IPv4-translated (SIIT, ::ffff:0:a.b.c.d)
address is refused with a 400 by the API itself. Nothing is connected to: the answer is the proof."""

import pytest

from asyncinfer.handlers import shared
from tests.integration.conftest import REFERENCE_BODY

pytestmark = pytest.mark.integration

SIIT_LOOPBACK = ["[::ffff:0:7f00:1]", "[::ffff:0:127.0.0.1]"]
SIIT_PRIVATE = [*SIIT_LOOPBACK, "[::ffff:0:10.0.0.1]", "[::ffff:0:a00:1]"]
SIIT_METADATA = ["[::ffff:0:169.254.169.254]", "[::ffff:0:a9fe:a9fe]"]


def with_url(kind: str, url: str) -> dict:
    if kind == "webhook":
        return {**REFERENCE_BODY, "webhook": {"url": url}}
    return {**REFERENCE_BODY, "mcp_servers": [{"name": "calc", "url": url, "authorization": "tenant-token"}]}


def refused(aws, kind: str, url: str) -> str:
    status, body = aws.api("POST", "/v1/async", body=with_url(kind, url))
    assert status == 400, body
    field = "webhook.url" if kind == "webhook" else "mcp_servers.0.url"
    assert body["error"]["message"].startswith(field), body
    assert aws.queue_depth() == 0
    return body["error"]["message"]


@pytest.mark.parametrize("kind", ["webhook", "mcp"])
@pytest.mark.parametrize("host", SIIT_PRIVATE)
def test_a_siit_spelling_of_a_private_address_is_refused_at_submit(aws, monkeypatch, kind, host):
    monkeypatch.setenv("ASYNCINFER_WEBHOOK_ALLOW_PRIVATE", "false")
    monkeypatch.setenv("ASYNCINFER_MCP_ALLOW_PRIVATE", "false")
    shared.service.cache_clear()
    assert "private address" in refused(aws, kind, f"http://{host}:8080/in")


@pytest.mark.parametrize("kind", ["webhook", "mcp"])
@pytest.mark.parametrize("host", SIIT_METADATA)
def test_a_siit_spelling_of_the_metadata_address_is_refused_even_where_private_is_allowed(aws, monkeypatch, kind, host):
    monkeypatch.setenv("ASYNCINFER_WEBHOOK_ALLOW_PRIVATE", "true")
    monkeypatch.setenv("ASYNCINFER_MCP_ALLOW_PRIVATE", "true")
    shared.service.cache_clear()
    assert "metadata" in refused(aws, kind, f"http://{host}/latest/meta-data/")

"""A private API's guidance end to end: `asyncinfer preflight` prints its line only when cdk.json's endpoint is
private, and smoke against a closed loopback port fails with the ordinary message (the hint is for API Gateway's
hosts only, tests/unit/test_private_api_guidance.py). Nothing leaves 127.0.0.1 and the emulator."""

import socket

import pytest

from asyncinfer.ops.preflight import Preflight, Result, Target, render
from asyncinfer.ops.smoke import Smoke
from tests.integration.test_preflight import (  # noqa: F401 (account: the fixture)
    DEMAND,
    HOST,
    REGION,
    account,
    by_name,
    clients_with,
    lambda_answers,
)

pytestmark = pytest.mark.integration

IDS = ("vpce-0123456789abcdef0",)


@pytest.mark.usefixtures("account")
def test_preflight_prints_the_private_api_line_only_for_a_private_api():
    private = Target(private_endpoints=IDS, demand=DEMAND)
    checks = Preflight(clients_with(**{"lambda": lambda_answers()}), REGION, private, HOST).run()
    check = by_name(checks)["private API"]
    assert check.result == Result.OK
    assert (
        f"✓ private API: it answers only through {IDS[0]}: run `asyncinfer smoke` on a host inside the VPC"
        in render(checks)
    )
    regional = Preflight(clients_with(**{"lambda": lambda_answers()}), REGION, Target(demand=DEMAND), HOST).run()
    assert "private API" not in by_name(regional)


def _closed_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class DocsOnly(Smoke):
    def checks(self):
        yield "docs", self.docs


def test_a_refused_loopback_connection_gets_the_ordinary_message():
    (line,) = DocsOnly(f"http://127.0.0.1:{_closed_loopback_port()}", "ai_key").run()
    assert not line.ok and line.detail.startswith("ConnectError: ")
    assert "private API" not in line.detail

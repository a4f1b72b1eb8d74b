"""A private API (cdk.json `endpoint: "private"`) answers only from inside its VPC: preflight says where smoke must
run and with which URL, and smoke's connection failures to API Gateway's hosts say so. No network: smoke's
requests go to an in-process transport."""

import json
from pathlib import Path

import httpx2
import pytest

from asyncinfer import cli
from asyncinfer.ops.preflight import Host, Result, Target
from asyncinfer.ops.preflight.account import private_api
from asyncinfer.ops.preflight.base import Context
from asyncinfer.ops.smoke import PRIVATE_URL_FORM, Smoke, unreachable_hint

IDS = ("vpce-0123456789abcdef0", "vpce-0a1b2c3d")
ROOT = Path(__file__).resolve().parents[2]
ALIAS = "https://a1b2c3d4e5-vpce-0123456789abcdef0.execute-api.eu-west-1.amazonaws.com/prod/"


def _no_aws(*_args, **_kwargs):
    raise AssertionError("the check asks AWS nothing")


def test_preflight_says_smoke_runs_inside_the_vpc_with_the_endpoint_s_url():
    check = private_api(Context(_no_aws, "eu-west-1", Target(stage="team", private_endpoints=IDS), Host()))
    assert check.result == Result.OK and check.name == "private API"
    assert "vpce-0123456789abcdef0, vpce-0a1b2c3d" in check.detail
    assert "on a host inside the VPC" in check.detail
    assert "--url https://{api-id}-vpce-0123456789abcdef0.execute-api.eu-west-1.amazonaws.com/team/" in check.detail


def test_in_china_the_url_has_the_partition_s_suffix():
    check = private_api(Context(_no_aws, "cn-north-1", Target(private_endpoints=IDS), Host()))
    assert ".execute-api.cn-north-1.amazonaws.com.cn/prod/" in check.detail


def _project(tmp_path: Path, **settings) -> Path:
    cdk = json.loads((ROOT / "cdk.json").read_text())
    cdk["context"]["asyncinfer"].update(settings)
    (tmp_path / "cdk.json").write_text(json.dumps(cdk))
    return tmp_path


def test_the_cli_s_target_names_the_endpoints_only_when_private(tmp_path):
    private = cli.deployment_target(_project(tmp_path, endpoint="private", vpc_endpoint_ids=list(IDS)))
    assert private.private_endpoints == IDS
    assert cli.deployment_target(_project(tmp_path)).private_endpoints == ()


@pytest.mark.parametrize(
    "url",
    [
        ALIAS,
        "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/prod/",  # private DNS on
        "https://vpce-0123456789abcdef0-abcd1234.execute-api.eu-west-1.vpce.amazonaws.com/prod/",
        "https://a1b2c3d4e5-vpce-0a1b2c3d.execute-api.cn-north-1.amazonaws.com.cn/prod/",
        "HTTPS://A1B2C3D4E5.EXECUTE-API.EU-WEST-1.AMAZONAWS.COM/prod/",
    ],
)
def test_an_api_gateway_host_gets_the_hint(url):
    hint = unreachable_hint(url)
    assert hint.startswith("A private API answers only from inside its VPC, through its VPC endpoint")
    assert hint.endswith(f"run smoke on a host there, with --url {PRIVATE_URL_FORM}")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000",
        "https://api.example.com/",
        "https://x.execute-api.eu-west-1.amazonaws.com.example.org/prod/",
        "https://execute-api.example.com/",
        "https://bucket.s3.eu-west-1.amazonaws.com/key",
    ],
)
def test_other_hosts_get_none(url):
    assert unreachable_hint(url) == ""


class DocsOnly(Smoke):
    def checks(self):
        yield "docs", self.docs


def _smoke_failing_with(error, url=ALIAS):
    def transport(request: httpx2.Request) -> httpx2.Response:
        if isinstance(error, int):
            return httpx2.Response(error, json={"message": "Forbidden"})
        raise error("no route", request=request)

    smoke = DocsOnly(url, "ai_key")
    smoke.client = httpx2.Client(base_url=url.rstrip("/"), transport=httpx2.MockTransport(transport))
    (line,) = smoke.run()
    assert not line.ok
    return line.detail


@pytest.mark.parametrize("error", [httpx2.ConnectError, httpx2.ConnectTimeout])
def test_a_connection_to_api_gateway_that_fails_says_run_inside_the_vpc(error):
    detail = _smoke_failing_with(error)
    assert detail.startswith(f"{error.__name__}: no route. A private API answers only from inside its VPC")


@pytest.mark.parametrize("error", [httpx2.ReadTimeout, 403])
def test_a_failure_after_connecting_is_told_as_it_is(error):
    assert "private API" not in _smoke_failing_with(error)


def test_a_connection_failure_elsewhere_is_told_as_it_is():
    assert _smoke_failing_with(httpx2.ConnectError, "https://api.example.com") == "ConnectError: no route"

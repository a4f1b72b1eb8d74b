"""The X-Ray SDK is gone (docs/operate/tracing.md): the bundle's lock has none, no module imports it or
Powertools' Tracer, and no function or stage records X-Ray segments of its own. A task's trace is made of
OpenTelemetry spans, sent to X-Ray's OTLP endpoint by every function when tracing is on, by none when off."""

from __future__ import annotations

import ast

import pytest

from infra.config import ROOT
from infra.lock import LOCK, parse_pins
from tests.infra.conftest import synthesize
from tests.infra.helpers import CONFIG, actions_of, of_type, policy_statements_of
from tests.infra.iam import PSEUDO

pytestmark = pytest.mark.infra

SPANS = {"xray:PutSpans", "xray:PutSpansForIndexing"}


def xray_imports(source: str) -> list[str]:
    """The imports of the X-Ray SDK or of Powertools' tracer (which loads it) in one module's source."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        found += [
            name
            for name in names
            if name.split(".")[0] == "aws_xray_sdk"
            or name.startswith("aws_lambda_powertools.tracing")
            or name == "aws_lambda_powertools.Tracer"
        ]
    return found


def test_the_detector_finds_each_way_of_importing_the_sdk_and_passes_other_powertools_imports():
    assert xray_imports("from aws_lambda_powertools import Logger, Tracer") == ["aws_lambda_powertools.Tracer"]
    assert xray_imports("import aws_xray_sdk.core as x") == ["aws_xray_sdk.core"]
    assert xray_imports("from aws_xray_sdk.core import patch_all") == [
        "aws_xray_sdk.core",
        "aws_xray_sdk.core.patch_all",
    ]
    assert xray_imports("from aws_lambda_powertools.tracing import Tracer") != []
    assert xray_imports("from aws_lambda_powertools import Logger, Metrics\nimport json") == []


def test_no_module_under_functions_imports_the_xray_sdk_or_powertools_tracer():
    modules = sorted((ROOT / "functions").rglob("*.py"))
    assert len(modules) > 50  # the package, not an empty glob
    offenders = {str(path.relative_to(ROOT)): found for path in modules if (found := xray_imports(path.read_text()))}
    assert offenders == {}


def test_the_lambda_lock_pins_no_xray_sdk():
    pins, problems = parse_pins((ROOT / LOCK).read_text())
    names = {pin.name for pin in pins}
    assert not problems and "aws-lambda-powertools" in names
    assert "aws-xray-sdk" not in names
    assert {"opentelemetry-sdk", "opentelemetry-exporter-otlp-proto-http"} <= names


def resolved(value) -> str:
    """A template string (a plain string or a Fn::Join of pseudo parameters) as the deployed value."""
    if isinstance(value, str):
        return value
    separator, parts = value["Fn::Join"]
    return separator.join(part if isinstance(part, str) else PSEUDO[part["Ref"]] for part in parts)


def test_no_function_or_stage_records_xray_segments_and_every_function_sends_spans(resources):
    functions = of_type(resources, "AWS::Lambda::Function")
    assert functions
    region, suffix = PSEUDO["AWS::Region"], PSEUDO["AWS::URLSuffix"]
    for name, props in functions.items():
        assert props.get("TracingConfig", {}).get("Mode") != "Active", name
        env = props["Environment"]["Variables"]
        assert resolved(env["ASYNCINFER_TRACES_ENDPOINT"]) == f"https://xray.{region}.{suffix}/v1/traces", name
        assert float(env["ASYNCINFER_TRACE_SAMPLE_RATE"]) == CONFIG.tracing.sample_rate
        actions = actions_of(policy_statements_of(resources, name))
        assert actions >= SPANS, name
        assert not {"xray:PutTraceSegments", "xray:PutTelemetryRecords"} & actions, name
    (stage,) = of_type(resources, "AWS::ApiGateway::Stage").values()
    assert not stage.get("TracingEnabled")


@pytest.fixture(scope="module")
def untraced():
    _, template = synthesize(tracing={"enabled": False})
    return template.to_json()["Resources"]


def test_with_tracing_off_no_function_has_an_endpoint_or_may_send_spans(untraced):
    for name, props in of_type(untraced, "AWS::Lambda::Function").items():
        assert not any(key.startswith("ASYNCINFER_TRACE") for key in props["Environment"]["Variables"]), name
        assert not any(action.startswith("xray:") for action in actions_of(policy_statements_of(untraced, name)))


def test_the_sample_rate_is_a_share():
    from pydantic import ValidationError

    from infra.config import InfraConfig

    assert InfraConfig.from_context({"tracing": {"sample_rate": 0.05}}).tracing.sample_rate == 0.05
    for bad in ({"sample_rate": 1.5}, {"sample_rate": -0.1}, {"rate": 0.5}):
        with pytest.raises(ValidationError):
            InfraConfig.from_context({"tracing": bad})

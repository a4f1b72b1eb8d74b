"""One synthesized template for the whole session: the first synth in a process costs seconds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

CDK_JSON = Path(__file__).resolve().parents[2] / "cdk.json"

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


def synthesize(bundle: bool = False, outdir: str | None = None, **overrides):
    """The stack as `cdk synth` builds it from cdk.json, with some asyncinfer settings overridden.
    Skips asset bundling (pip) unless `bundle`, but always runs every cdk-nag check: a finding fails it."""
    from aws_cdk import App
    from aws_cdk.assertions import Template

    from infra.app import build

    context = json.loads(CDK_JSON.read_text())["context"]
    context["asyncinfer"] = {**context["asyncinfer"], **overrides}
    if not bundle:
        context["aws:cdk:bundling-stacks"] = []
    app = App(context=context, outdir=outdir)
    stack = build(app)
    app.synth()
    return stack, Template.from_stack(stack)


def cfn_lint(template, directory: Path) -> subprocess.CompletedProcess:
    """cfn-lint on a synthesized template (W3005, DependsOn that CDK writes though implied, ignored)."""
    path = directory / "template.json"
    path.write_text(json.dumps(template.to_json()))
    cli = str(Path(sys.executable).with_name("cfn-lint"))
    return subprocess.run([cli, "--ignore-checks", "W3005", "--", str(path)], capture_output=True, text=True)


def nag_report_without_apig3_acknowledged(monkeypatch, capfd, **overrides) -> str:
    """cdk-nag's report of a synth in which the API's APIG3 acknowledgement is not made."""
    from infra.components import api as api_component

    real = api_component.acknowledge

    def all_but_apig3(scope, rule, reason):
        if rule != "APIG3":
            real(scope, rule, reason)

    monkeypatch.setattr(api_component, "acknowledge", all_but_apig3)
    capfd.readouterr()
    synthesize(**overrides)
    return "".join(capfd.readouterr())


@pytest.fixture(scope="session")
def synth():
    return synthesize()


@pytest.fixture(scope="session")
def template(synth):
    return synth[1]


@pytest.fixture(scope="session")
def resources(template):
    return template.to_json()["Resources"]

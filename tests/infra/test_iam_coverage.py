"""Every AWS call each function's code made anywhere in this run of the suite (recorded per function from
botocore's events by tests/support/aws_calls_plugin.py: in process, and in the local stacks the e2e tests
start) is allowed by the role the synthesized stack gives that function, on the resource it names. This test
runs after all the others (the plugin puts it last, and adds it when the chosen tests run functions)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.infra.conftest import synthesize
from tests.infra.iam import refusals
from tests.support import aws_calls_plugin

pytestmark = pytest.mark.infra
# A template to check instead of synthesizing one (`make synth`'s, or another commit's).
TEMPLATE = "ASYNCINFER_IAM_TEMPLATE"


def synthesized(request: pytest.FixtureRequest) -> dict:
    """The session's template when tests/infra's fixtures are in play; synthesized here when the plugin added
    this test to a run of other directories."""
    try:
        return {"Resources": request.getfixturevalue("resources")}
    except pytest.FixtureLookupError:
        return synthesize()[1].to_json()


def test_every_aws_call_each_function_made_in_this_run_is_granted_to_it(request):
    recorded = aws_calls_plugin.everything()
    if not recorded.calls:
        pytest.skip("no function ran in this session")
    given = os.environ.get(TEMPLATE)
    template = json.loads(Path(given).read_text()) if given else synthesized(request)
    refused = refusals(template["Resources"], recorded.calls, recorded.writes)
    functions = len({c.function for c in recorded.calls})
    assert refused == [], (
        f"of {len(recorded.calls)} calls by {functions} functions, the deployed roles refuse:\n" + "\n".join(refused)
    )

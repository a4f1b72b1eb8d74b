"""`asyncinfer preflight` on where each Bedrock model of the registry stands in Bedrock's lifecycle (issue 30,
point 4): GetFoundationModel's modelDetails.modelLifecycle (ACTIVE or LEGACY, with its end of life), answered
by botocore's Stubber with the shapes of botocore's own service model; a LEGACY model's successor comes from
the table beside the registry (models.successors.json), which cites the AWS page of each entry."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from botocore.exceptions import ParamValidationError
from botocore.stub import Stubber

from asyncinfer.ops.preflight import Host, Preflight, Result, Target
from asyncinfer.ops.preflight.models import SUCCESSORS, Successors, lifecycle, successors
from tests.integration.test_preflight import (  # noqa: F401  (account: the emulator fixture)
    AVAILABLE,
    DEMAND,
    REGION,
    account,
    bootstrap,
    by_name,
    clients_with,
    lambda_answers,
    stubbed,
)

pytestmark = pytest.mark.integration

TODAY = date(2026, 12, 6)
REEL = "amazon.nova-reel-v1:0"
OLD = "anthropic.claude-3-5-sonnet-20240620-v1:0"


def details(model: str, status: str, end: datetime | None = None) -> dict:
    cycle = {"status": status, "startOfLifeTime": datetime(2024, 12, 3, tzinfo=UTC)}
    if end is not None:
        cycle.update(legacyTime=datetime(2026, 3, 30, tzinfo=UTC), endOfLifeTime=end)
    arn = f"arn:aws:bedrock:{REGION}::foundation-model/{model}"
    return {"modelDetails": {"modelArn": arn, "modelId": model, "modelLifecycle": cycle}}


def ask(model: str, answer: dict | str, table: Successors | None = None, asked: str | None = None):
    bedrock = stubbed("bedrock", [("get_foundation_model", answer, {"modelIdentifier": asked or model})])
    ctx = Preflight(clients_with(bedrock=bedrock), REGION, Target(), Host(today=lambda: TODAY)).ctx
    return lifecycle(ctx, model, None, table)


def table(entries: dict) -> Successors:
    return Successors.model_validate({"models": entries})


def test_an_active_model_is_ok():
    found = ask("amazon.nova-lite-v1:0", details("amazon.nova-lite-v1:0", "ACTIVE"))
    assert (found.name, found.result, found.detail) == ("Bedrock amazon.nova-lite-v1:0 lifecycle", Result.OK, "ACTIVE")


def test_a_legacy_model_names_the_successor_aws_documents():
    successor = {"successor": "anthropic.claude-sonnet-4-5-20250929-v1:0", "source": "https://docs.aws.amazon.com/x"}
    found = ask(OLD, details(OLD, "LEGACY", datetime(2027, 3, 1, tzinfo=UTC)), table({OLD: successor}))
    assert found.result == Result.WARN
    assert found.detail == "LEGACY, end of life 2027-03-01"
    assert found.fix.startswith("AWS names anthropic.claude-sonnet-4-5-20250929-v1:0 as its successor")
    assert "https://docs.aws.amazon.com/x" in found.fix


def test_a_legacy_model_the_table_does_not_know_is_told_to_pick_an_active_one():
    found = ask(OLD, details(OLD, "LEGACY", datetime(2027, 3, 1, tzinfo=UTC)), table({}))
    assert found.result == Result.WARN and "pick an ACTIVE model" in found.fix


def test_the_registrys_nova_reel_is_past_its_end_of_life_and_aws_names_no_successor():
    """The packaged table: Nova Reel v1.0 (the demo video model's upstream), EOL 2026-09-30 by its model card."""
    found = ask(REEL, details(REEL, "LEGACY"), asked=REEL)
    assert found.result == Result.FAIL
    assert found.detail == "LEGACY, end of life 2026-09-30: past it, its requests fail"
    assert found.fix.startswith("AWS names no successor (https://docs.aws.amazon.com/bedrock/latest/userguide/")


def test_a_profile_id_is_asked_by_its_model_and_an_error_fails_the_line():
    found = ask(f"us.{REEL}", "ResourceNotFoundException", asked=REEL)
    assert found.result == Result.FAIL and "GetFoundationModel in eu-west-1: ResourceNotFoundException" in found.detail


def test_every_entry_of_the_packaged_table_cites_an_aws_page():
    raw = json.loads(SUCCESSORS.read_text())
    assert raw["models"], "the table is empty"
    for model, entry in successors().models.items():
        assert entry.source.host == "docs.aws.amazon.com", model
        assert entry.successor is not None or entry.note, f"{model}: no successor and no word why"


def test_the_stubbed_answers_have_botocores_shape():
    """The answers above are validated against botocore's service model by the Stubber itself: a field it does
    not know (or a wrong type) is refused, so the checks read what Bedrock really returns."""
    stubber = Stubber(stubbed("bedrock", []))
    bad = details(REEL, "LEGACY")
    bad["modelDetails"]["modelLifecycle"]["endOfLife"] = "2026-09-30"
    with pytest.raises(ParamValidationError, match="endOfLife"):
        stubber.add_response("get_foundation_model", bad, {"modelIdentifier": REEL})


def test_preflight_reads_both_availability_and_lifecycle_of_each_model(account):  # noqa: F811
    bootstrap()
    bedrock = stubbed(
        "bedrock",
        [
            ("get_foundation_model_availability", {**AVAILABLE, "modelId": REEL}, {"modelId": REEL}),
            ("get_foundation_model", details(REEL, "LEGACY"), {"modelIdentifier": REEL}),
        ],
    )
    target = Target(bedrock_models=((REEL, "us-east-1"),), demand=DEMAND)
    found = by_name(
        Preflight(
            clients_with(bedrock=bedrock, **{"lambda": lambda_answers()}), REGION, target, Host(today=lambda: TODAY)
        ).run()
    )
    assert found[f"Bedrock {REEL}"].result == Result.OK
    assert found[f"Bedrock {REEL} lifecycle"].result == Result.FAIL

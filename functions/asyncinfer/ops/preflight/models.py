"""The registry's Bedrock models: whether this account may invoke each one in its region, and where each
stands in Bedrock's lifecycle (ACTIVE, or LEGACY until its end of life), with the successor AWS documents
for a legacy one (models.successors.json, beside the registry)."""

from __future__ import annotations

import json
import re
from datetime import datetime
from functools import cache
from pathlib import Path

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, HttpUrl

import asyncinfer
from asyncinfer.ops.preflight.base import Check, Context, Result, error_code

# A cross-region inference profile (us.amazon.nova-lite-v1:0) names its model after a geography prefix.
_PROFILE_PREFIX = re.compile(r"^(us|eu|apac|us-gov|ca|jp|au|global)\.")
SUCCESSORS = Path(asyncinfer.__file__).parent / "models.successors.json"


class Successor(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    successor: str | None  # None: the cited page names none
    eol: str | None = None
    note: str = ""
    source: HttpUrl


class Successors(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    about: str = ""
    models: dict[str, Successor]


@cache
def successors(path: Path = SUCCESSORS) -> Successors:
    return Successors.model_validate(json.loads(path.read_text()))


def availability(ctx: Context, model: str, region: str | None) -> Check:
    name = f"Bedrock {model}"
    base = _PROFILE_PREFIX.sub("", model)
    try:
        found = ctx.clients("bedrock", region).get_foundation_model_availability(modelId=base)
    except ClientError as exc:
        return Check(name, Result.FAIL, f"not available in {region or ctx.region}: {error_code(exc)}", "")
    problems = [
        what
        for what, ok in (
            ("not offered in this region", found.get("regionAvailability") == "AVAILABLE"),
            ("not authorized for this account", found.get("authorizationStatus") == "AUTHORIZED"),
            ("no entitlement", found.get("entitlementAvailability") == "AVAILABLE"),
            ("its agreement is not accepted", found.get("agreementAvailability", {}).get("status") == "AVAILABLE"),
        )
        if not ok
    ]
    if problems:
        return Check(
            name,
            Result.FAIL,
            "; ".join(problems),
            "open the model in the Bedrock console (Model catalog) and accept its terms or submit the use "
            "case it asks for; or use a region that offers it",
        )
    return Check(name, Result.OK, f"available in {region or ctx.region}")


def _day(value: datetime | None) -> str | None:
    return value.date().isoformat() if value else None


def lifecycle(ctx: Context, model: str, region: str | None, table: Successors | None = None) -> Check:
    """GetFoundationModel's modelLifecycle (https://docs.aws.amazon.com/bedrock/latest/APIReference/
    API_FoundationModelLifecycle.html): a LEGACY model keeps working until its end of life, then its requests
    fail; new customers cannot use it (https://docs.aws.amazon.com/bedrock/latest/userguide/model-lifecycle.html)."""
    name = f"Bedrock {model} lifecycle"
    base = _PROFILE_PREFIX.sub("", model)
    try:
        details = ctx.clients("bedrock", region).get_foundation_model(modelIdentifier=base)["modelDetails"]
    except ClientError as exc:
        return Check(name, Result.FAIL, f"GetFoundationModel in {region or ctx.region}: {error_code(exc)}", "")
    found = details.get("modelLifecycle") or {}
    status = found.get("status", "unknown")
    if status == "ACTIVE":
        return Check(name, Result.OK, "ACTIVE")
    end = _day(found.get("endOfLifeTime"))
    known = (table or successors()).models.get(base)
    end = end or (known.eol if known else None)
    detail = f"{status}" + (f", end of life {end}" if end else "")
    if end and end < ctx.host.today().isoformat():
        result, detail = Result.FAIL, f"{detail}: past it, its requests fail"
    else:
        result = Result.WARN
    if known is None:
        fix = "pick an ACTIVE model in the Bedrock console (Model catalog) and change the registry's `upstream`"
    elif known.successor:
        fix = f"AWS names {known.successor} as its successor ({known.source}): change the registry's `upstream`"
    else:
        fix = f"AWS names no successor ({known.source}): pick another ACTIVE model, or drop it from the registry"
    return Check(name, result, detail, fix)

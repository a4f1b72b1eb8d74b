"""Deletes the long-task runner's old versions that nothing runs on any more (docs/operate/upgrades.md).

Each deploy publishes a runner version and retains the one before: a durable execution stays on the version
that started it, for up to runner_execution_days. A version is kept while an alias routes to it, while it is
among the `keep` newest, or while any of its executions has not ended; every other version is deleted."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Statuses of an execution that has not ended (ListDurableExecutionsByFunction's Statuses): it may still
# be invoked on its version.
UNFINISHED = ("RUNNING", "PAUSING", "PAUSED")


@dataclass(frozen=True)
class PruneReport:
    function: str
    kept: dict[str, str] = field(default_factory=dict)  # version -> why it stays: "alias live", "newest", "running"
    deleted: tuple[str, ...] = ()
    dry_run: bool = False


def prune_versions(client: Any, function: str, *, keep: int = 2, dry_run: bool = False) -> PruneReport:
    """Deletes (unless `dry_run`) every published version of `function` that no alias routes to, that is not
    among the `keep` newest and that has no unfinished durable execution. $LATEST is never touched."""
    versions = sorted(
        (
            v["Version"]
            for page in client.get_paginator("list_versions_by_function").paginate(FunctionName=function)
            for v in page["Versions"]
            if v["Version"] != "$LATEST"
        ),
        key=int,
        reverse=True,
    )
    kept: dict[str, str] = {}
    for page in client.get_paginator("list_aliases").paginate(FunctionName=function):
        for alias in page["Aliases"]:
            weights = (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
            for version in (alias["FunctionVersion"], *weights):
                kept.setdefault(version, f"alias {alias['Name']}")
    for version in versions[:keep]:
        kept.setdefault(version, "newest")
    deleted = []
    for version in versions:
        if version in kept:
            continue
        if _unfinished(client, function, version):
            kept[version] = "running"
            continue
        if not dry_run:
            client.delete_function(FunctionName=function, Qualifier=version)
        deleted.append(version)
    return PruneReport(function, {v: kept[v] for v in versions if v in kept}, tuple(deleted), dry_run)


def _unfinished(client: Any, function: str, version: str) -> bool:
    answer = client.list_durable_executions_by_function(
        FunctionName=function, Qualifier=version, Statuses=list(UNFINISHED), MaxItems=1
    )
    return bool(answer.get("DurableExecutions"))


def render(report: PruneReport) -> list[str]:
    verb = "would delete" if report.dry_run else "deleted"
    lines = [f"kept {version}: {why}" for version, why in report.kept.items()]
    lines += [f"{verb} {version}" for version in report.deleted]
    lines.append(f"{report.function}: {verb} {len(report.deleted)}, kept {len(report.kept)} (and $LATEST)")
    return lines

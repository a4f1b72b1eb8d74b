"""`asyncinfer preflight` on this machine's side of a deploy (issue 30, point 5): the Node.js the CDK CLI runs
on, against the CDK's support table (https://docs.aws.amazon.com/cdk/v2/guide/node-versions.html), and each
problem the project's lock reports (infra.lock.lock_problems)."""

from __future__ import annotations

import sys
import types
from datetime import date
from pathlib import Path

import pytest

from asyncinfer.ops.preflight import Host, Result, Target
from asyncinfer.ops.preflight.base import Context
from asyncinfer.ops.preflight.host import installed_node_version, project_lock_problems
from asyncinfer.ops.preflight.toolchain import lock, node, tools

TODAY = date(2026, 12, 6)


def context(host: Host, project: Path | None = None) -> Context:
    def no_aws(service, region=None):
        raise AssertionError(f"these checks ask AWS nothing (asked {service})")

    return Context(no_aws, "eu-west-1", Target(project=project), host)


def node_check(version: str | None, today: date = TODAY):
    return node(context(Host(node_version=lambda: version, today=lambda: today)))


@pytest.mark.parametrize(
    ("version", "today", "result", "says"),
    [
        # Node 20: end of life 2026-04-30; the CDK supported it six months more, until 2026-10-30.
        ("v20.20.2", TODAY, Result.WARN, "reached end of life on 2026-04-30 and the AWS CDK's support for it ended"),
        ("v20.20.2", date(2026, 6, 1), Result.WARN, "the AWS CDK supports it until 2026-10-30"),
        ("v20.20.2", date(2026, 4, 1), Result.OK, "the AWS CDK supports it until 2026-10-30"),
        ("v22.12.0", TODAY, Result.OK, "Node.js 22: the AWS CDK supports it until 2027-10-30"),
        ("v24.11.1", TODAY, Result.OK, "until 2028-10-30"),
        ("v25.2.0", TODAY, Result.WARN, "not an LTS line"),
        ("v26.0.0", TODAY, Result.OK, "newer than the LTS lines this check knows"),
        ("v12.22.12", TODAY, Result.FAIL, "older than any line the AWS CDK supports"),
        (None, TODAY, Result.FAIL, "`node --version` answered None"),
    ],
)
def test_the_node_version_against_the_cdks_support_table(version, today, result, says):
    found = node_check(version, today)
    assert (found.result, found.name) == (result, "Node.js version")
    assert says in found.detail
    if result != Result.OK:
        assert found.fix.startswith("install Node.js")


def test_the_fix_names_the_newest_lts_line_still_in_support():
    assert node_check("v20.20.2").fix.startswith("install Node.js 24 (LTS)")
    assert node_check("v22.12.0", date(2027, 6, 1)).fix.startswith("install Node.js 24 (LTS)")
    # Past every line this table knows: no version is named rather than an unsupported one.
    assert node_check("v24.11.1", date(2029, 1, 1)).fix.startswith("install a current Node.js LTS")


def test_missing_tools_are_named_with_what_to_install():
    found = tools(context(Host(which=lambda tool: None if tool == "npm" else "/usr/bin/node", today=lambda: TODAY)))
    assert found.result == Result.FAIL
    assert found.detail.startswith("not on PATH: npm") and found.fix == "install Node.js 24 (LTS) with npm"


def test_the_node_on_path_is_read_with_node_version():
    """The real `node --version` of this machine (the CDK CLI's), or None without a node."""
    version = installed_node_version()
    assert version is None or version.startswith("v")


def test_each_lock_problem_is_a_failing_line_and_none_is_one_ok_line(tmp_path):
    problems = ["uv.lock is older than pyproject.toml", "no wheel of pydantic-core for cp313 manylinux aarch64"]
    failing = list(lock(context(Host(lock_problems=lambda root: problems), project=tmp_path)))
    assert [(c.name, c.result, c.detail) for c in failing] == [
        ("build dependencies", Result.FAIL, problems[0]),
        ("build dependencies", Result.FAIL, problems[1]),
    ]
    (fine,) = lock(context(Host(lock_problems=lambda root: []), project=tmp_path))
    assert fine.result == Result.OK
    assert list(lock(context(Host(lock_problems=lambda root: problems)))) == []  # no project: nothing to check


def test_the_projects_infra_lock_is_asked_with_its_root(tmp_path, monkeypatch):
    asked = []
    fake = types.ModuleType("infra.lock")
    fake.lock_problems = lambda root: asked.append(root) or ["requirements.lock has no hash for boto3"]
    monkeypatch.setitem(sys.modules, "infra.lock", fake)
    assert project_lock_problems(tmp_path) == ["requirements.lock has no hash for boto3"]
    assert asked == [tmp_path]


def test_a_project_without_infra_lock_is_a_warning(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "infra.lock", None)  # importing it raises ImportError
    (found,) = lock(context(Host(), project=tmp_path))
    assert found.result == Result.WARN and found.detail.startswith("not checked: ")

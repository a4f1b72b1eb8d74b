"""This machine's side of a deploy: the Node.js the CDK CLI runs on, and whether the build can resolve the
dependencies it bundles (the project's lock, infra/lock.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date

from asyncinfer.ops.preflight.base import Check, Context, Result

# The AWS CDK supports Node.js LTS lines until six months after their end of life
# (https://docs.aws.amazon.com/cdk/v2/guide/node-versions.html): major -> (Node.js EOL, CDK support end).
NODE_SUPPORT = {
    24: (date(2028, 4, 30), date(2028, 10, 30)),
    22: (date(2027, 4, 30), date(2027, 10, 30)),
    20: (date(2026, 4, 30), date(2026, 10, 30)),
    18: (date(2025, 5, 30), date(2025, 11, 30)),
    16: (date(2023, 9, 11), date(2025, 5, 30)),
    14: (date(2023, 4, 30), date(2025, 5, 30)),
}
_VERSION = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)")


def tools(ctx: Context) -> Check:
    missing = [tool for tool in ctx.target.tools if not ctx.host.which(tool)]
    if missing:
        return Check(
            "node and npm",
            Result.FAIL,
            f"not on PATH: {', '.join(missing)} (the CDK CLI runs on Node.js)",
            f"install {_advice(ctx.host.today())} with npm",
        )
    return Check("node and npm", Result.OK, "on PATH (the CDK CLI is pinned in package.json)")


def _advice(today: date) -> str:
    supported = [major for major, (eol, _) in NODE_SUPPORT.items() if eol >= today]
    return f"Node.js {max(supported)} (LTS)" if supported else "a current Node.js LTS"


def node(ctx: Context) -> Check:
    """The Node.js the CDK CLI will run on, against the CDK's support table."""
    name = "Node.js version"
    today = ctx.host.today()
    fix = f"install {_advice(today)}: https://nodejs.org/en/about/previous-releases"
    version = ctx.host.node_version()
    found = _VERSION.match(version or "")
    if not found:
        return Check(name, Result.FAIL, f"`node --version` answered {version!r}", fix)
    major = int(found.group(1))
    if major not in NODE_SUPPORT:
        if major > max(NODE_SUPPORT) and major % 2 == 0:
            return Check(name, Result.OK, f"{version}, newer than the LTS lines this check knows")
        if major % 2:
            return Check(name, Result.WARN, f"{version} is not an LTS line; the AWS CDK supports LTS lines", fix)
        return Check(name, Result.FAIL, f"{version} is older than any line the AWS CDK supports", fix)
    eol, cdk_end = NODE_SUPPORT[major]
    if today > cdk_end:
        why = f"Node.js {major} reached end of life on {eol} and the AWS CDK's support for it ended on {cdk_end}"
        return Check(name, Result.WARN, f"{version}: {why}", fix)
    if today > eol:
        why = f"Node.js {major} reached end of life on {eol}; the AWS CDK supports it until {cdk_end}"
        return Check(name, Result.WARN, f"{version}: {why}", fix)
    return Check(name, Result.OK, f"{version} (Node.js {major}: the AWS CDK supports it until {cdk_end})")


def lock(ctx: Context) -> Iterator[Check]:
    """Each problem the project's lock reports (infra.lock): the build could not resolve what it bundles."""
    name = "build dependencies"
    if ctx.target.project is None:
        return
    try:
        problems = ctx.host.lock_problems(ctx.target.project)
    except ImportError as exc:
        yield Check(name, Result.WARN, f"not checked: {exc}", "update the project (infra/lock.py checks its lock)")
        return
    for problem in problems:
        yield Check(
            name, Result.FAIL, problem, "make lock (resolves requirements/lambda.lock again from pyproject.toml)"
        )
    if not problems:
        yield Check(name, Result.OK, "the lock matches pyproject.toml (every dependency pinned, every pin hashed)")

"""What preflight reads of the machine it runs on; tests give their own."""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from asyncinfer.ops.preflight.demand import synthesized_template


def installed_node_version() -> str | None:
    """`node --version` of the node on PATH (what `npx cdk` runs on); None without one."""
    try:
        done = subprocess.run(["node", "--version"], capture_output=True, text=True, timeout=30, check=False)
    except OSError:
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def project_lock_problems(project: Path) -> list[str]:
    """What keeps the build from resolving the dependencies it bundles: infra.lock.lock_problems of the
    project (empty when it can)."""
    if str(project) not in sys.path:
        sys.path.insert(0, str(project))
    return importlib.import_module("infra.lock").lock_problems(project)


def _today() -> date:
    return datetime.now(UTC).date()


@dataclass(frozen=True)
class Host:
    which: Callable[[str], str | None] = shutil.which
    node_version: Callable[[], str | None] = installed_node_version
    today: Callable[[], date] = _today
    lock_problems: Callable[[Path], list[str]] = project_lock_problems
    stack_template: Callable[[Path], dict[str, Any]] = synthesized_template

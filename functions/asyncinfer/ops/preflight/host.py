"""What preflight reads of the machine it runs on; tests give their own."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from asyncinfer.ops.preflight.demand import synthesized_template
from asyncinfer.ops.preflight.toolchain import installed_node_version, project_lock_problems


def _today() -> date:
    return datetime.now(UTC).date()


@dataclass(frozen=True)
class Host:
    which: Callable[[str], str | None] = shutil.which
    node_version: Callable[[], str | None] = installed_node_version
    today: Callable[[], date] = _today
    lock_problems: Callable[[Path], list[str]] = project_lock_problems
    stack_template: Callable[[Path], dict[str, Any]] = synthesized_template

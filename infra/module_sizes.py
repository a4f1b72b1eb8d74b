"""No module over 350 lines: the package, the infrastructure (the local stack included) and the client.

A module that outgrows the bound is split by what it does, not trimmed of comments or blank lines: the
count is of physical lines, as an editor shows them. `make lint` runs it; it prints every module over the
bound and exits 1, or prints nothing and exits 0."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 350
TREES = ("functions/asyncinfer", "infra", "clients/python/src")


def oversized(root: Path = ROOT, limit: int = LIMIT) -> list[tuple[str, int]]:
    """(path relative to `root`, lines) of each module over `limit`, largest first."""
    found = []
    for tree in TREES:
        for path in sorted((root / tree).rglob("*.py")):
            lines = len(path.read_bytes().splitlines())
            if lines > limit:
                found.append((path.relative_to(root).as_posix(), lines))
    return sorted(found, key=lambda item: -item[1])


def main() -> int:
    over = oversized()
    for path, lines in over:
        print(f"{path}: {lines} lines (at most {LIMIT}): split it by what it does")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())

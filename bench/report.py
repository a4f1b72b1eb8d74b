"""`python -m bench --write FILE`: the rows of one run, dated, in place of FILE's table between its markers
(docs/operate/performance.md), so the figures the docs quote are one run's of the code they describe."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

from bench.common import Row

BEGIN = "<!-- bench: the table below is written by `make bench` (python -m bench --write); do not edit -->"
END = "<!-- bench: end -->"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table(rows: list[Row], when: datetime, commit: str, seconds: float) -> str:
    """The rows as a Markdown table, with the run's date and commit, and each row's details beneath."""
    lines = [
        f"Figures from one run of `make bench` on {when:%Y-%m-%d} (commit `{commit}`), {seconds / 60:.0f} minutes "
        "on this 2-core machine; medians unless marked.",
        "",
        "| row | figure | target | |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {_cell(r.name)} | {_cell(r.figure)} | {_cell(r.target)} | {'met' if r.met else 'MISSED'} |" for r in rows
    ]
    lines += ["", "<details><summary>Each row's details from that run</summary>", ""]
    for row in rows:
        lines.append(f"- **{_cell(row.name)}**")
        lines += [f"    - {_cell(detail)}" for detail in row.details]
    lines += ["", "</details>"]
    return "\n".join(lines)


def write(path: Path, rows: list[Row], seconds: float) -> None:
    """Replaces what lies between the file's markers with this run's table; the rest of the file stays."""
    text = path.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{path} has no bench markers: add the two lines\n{BEGIN}\n{END}")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    commit = (
        subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=path.parent, check=False
        ).stdout.strip()
        or "unknown"
    )
    body = table(rows, datetime.now(UTC), commit, seconds)
    path.write_text(f"{head}{BEGIN}\n{body}\n{END}{tail}")

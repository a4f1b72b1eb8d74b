"""The client distribution's README (clients/python/README.md) as a reader runs it: each Python block after a
`<!-- readme-test: NAME expect="..." -->` marker runs as written, in a process of its own and an empty directory,
with ASYNCINFER_BASE_URL and ASYNCINFER_API_KEY pointing at the local stack, and must exit 0 having printed
`expect`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

README = Path(__file__).resolve().parents[2] / "clients" / "python" / "README.md"
MARKED = re.compile(
    r'<!-- readme-test: (?P<name>[\w-]+) expect="(?P<expect>(?:[^"\\]|\\.)*)" -->\n'
    r"```python\n(?P<code>.*?)\n```",
    re.S,
)
# What the README promises to show working: the quick start and each section's example.
PROMISED = {"run", "detach-attach", "generate-download", "async", "bounded", "resume", "errors", "batches"}


def snippets() -> list[tuple[str, str, str]]:
    return [(m["name"], m["code"], m["expect"].replace('\\"', '"')) for m in MARKED.finditer(README.read_text())]


def test_the_readme_marks_every_example_it_promises_to_run():
    names = [name for name, *_ in snippets()]
    assert len(names) == len(set(names)), "two examples share a name"
    assert set(names) >= PROMISED, PROMISED - set(names)


@pytest.mark.parametrize(("name", "code", "expect"), snippets(), ids=[s[0] for s in snippets()])
def test_a_readme_example_runs_as_written(stack, tmp_path, name, code, expect):
    env = {**os.environ, "ASYNCINFER_BASE_URL": stack.url, "ASYNCINFER_API_KEY": stack.key}
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, f"{name} exited {done.returncode}:\n{done.stderr[-2000:]}"
    assert expect in done.stdout, f"{name} printed:\n{done.stdout[-2000:]}"

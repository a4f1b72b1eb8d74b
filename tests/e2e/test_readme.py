"""The README's copy-paste snippets, run as written against the local stack: each fenced block after a
`<!-- readme-test: NAME expect="..." -->` marker runs (Python with this venv, bash with `set -eu`) in an
empty directory, with URL/KEY and ASYNCINFER_BASE_URL/ASYNCINFER_API_KEY set, and must print `expect`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

README = Path(__file__).resolve().parents[2] / "README.md"
MARKED = re.compile(
    r'<!-- readme-test: (?P<name>[\w-]+) expect="(?P<expect>(?:[^"\\]|\\.)*)" -->\n'
    r"```(?P<lang>\w+)\n(?P<code>.*?)\n```",
    re.S,
)


def snippets() -> list[tuple[str, str, str, str]]:
    found = [
        (m["name"], m["lang"], m["code"], m["expect"].replace('\\"', '"')) for m in MARKED.finditer(README.read_text())
    ]
    assert found, "the README has no tested snippets"
    return found


def test_the_readme_marks_the_snippets_it_promises():
    names = {name for name, *_ in snippets()}
    assert {"openai-batches", "perplexity-sdk", "curl-batches"} <= names
    assert {"privategpt-walkthrough", "perplexity-walkthrough", "netmind-walkthrough"} <= names


@pytest.mark.parametrize(("name", "lang", "code", "expect"), snippets(), ids=[s[0] for s in snippets()])
def test_a_readme_snippet_runs_as_written(stack, tmp_path, name, lang, code, expect):
    env = {
        **os.environ,
        "URL": stack.url,
        "KEY": stack.key,
        "ASYNCINFER_BASE_URL": stack.url,
        "ASYNCINFER_API_KEY": stack.key,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    command = [sys.executable, "-c", code] if lang == "python" else ["bash", "-euo", "pipefail", "-c", code]
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, f"{name}: {done.stderr[-2000:]}"
    assert expect in done.stdout, f"{name} printed:\n{done.stdout[-2000:]}"

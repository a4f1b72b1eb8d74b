"""The copy-paste snippets of the README and of the docs (docs/**/*.md), run as written against the local
stack: each fenced block after a `<!-- readme-test: NAME expect="..." -->` marker runs (Python with this venv,
bash with `set -eu`) in an empty directory, with URL/KEY and ASYNCINFER_BASE_URL/ASYNCINFER_API_KEY set, and
must print `expect`. Each is named by its page and its NAME (`guide/sdks.md::openai-batches`)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]
MARKED = re.compile(
    r'<!-- readme-test: (?P<name>[\w-]+) expect="(?P<expect>(?:[^"\\]|\\.)*)" -->\n'
    r"```(?P<lang>\w+)\n(?P<code>.*?)\n```",
    re.S,
)


def page_name(page: Path) -> str:
    return page.relative_to(DOCS).as_posix() if page.is_relative_to(DOCS) else page.name


def snippets() -> list[tuple[str, str, str, str]]:
    found = [
        (f"{page_name(page)}::{m['name']}", m["lang"], m["code"], m["expect"].replace('\\"', '"'))
        for page in PAGES
        for m in MARKED.finditer(page.read_text())
    ]
    assert found, "neither the README nor the docs have tested snippets"
    return found


def test_the_pages_mark_the_snippets_they_promise():
    names = {name for name, *_ in snippets()}
    assert len(names) == len(snippets()), "two snippets of one page share a name"
    assert {"README.md::submit-and-read"} <= names
    assert {"guide/sdks.md::openai-batches", "guide/sdks.md::perplexity-sdk", "guide/sdks.md::curl-batches"} <= names
    assert {
        "guide/privategpt.md::privategpt-walkthrough",
        "guide/perplexity.md::perplexity-walkthrough",
        "guide/netmind.md::netmind-walkthrough",
    } <= names


@pytest.mark.parametrize(("name", "lang", "code", "expect"), snippets(), ids=[s[0] for s in snippets()])
def test_a_documented_snippet_runs_as_written(stack, tmp_path, name, lang, code, expect):
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

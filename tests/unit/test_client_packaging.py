"""The client distribution stands alone: the library needs neither rich nor server code, `aic`'s
dependencies come with the `cli` extra, and `aic` without them says so in one line (issue 31, criterion 5)."""

from __future__ import annotations

import email
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

from packaging.requirements import Requirement

CLIENT = Path(__file__).resolve().parents[2] / "clients" / "python"
# Run with rich hidden: an import of it fails as in an environment without the extra.
WITHOUT_RICH = "import sys; sys.modules['rich'] = None\n"


def names(requirements: list[str]) -> set[str]:
    return {Requirement(r).name for r in requirements}


def test_rich_is_only_in_the_cli_extra():
    project = tomllib.loads((CLIENT / "pyproject.toml").read_text())["project"]
    assert names(project["dependencies"]) == {"httpx", "standardwebhooks"}
    assert names(project["optional-dependencies"]["cli"]) == {"rich"}


def python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", WITHOUT_RICH + code], capture_output=True, text=True, timeout=60)


def test_the_library_imports_and_works_without_rich():
    done = python(
        "import asyncinfer_client as c\n"
        "client = c.Client('http://127.0.0.1:9', 'k'); client.close()\n"
        "assert 'rich' not in [m for m in sys.modules if sys.modules[m] is not None]\n"
        "print('ok')"
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_aic_without_the_cli_extra_prints_one_line_saying_to_install_it():
    done = python("from asyncinfer_client.cli import main; sys.exit(main(['ls']))")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "aic needs the client's cli extra: pip install 'asyncinfer-client[cli]'"
    ]


README = CLIENT / "README.md"


def test_the_distribution_declares_its_readme():
    project = tomllib.loads((CLIENT / "pyproject.toml").read_text())["project"]
    assert project["readme"] == "README.md"
    assert README.read_text().startswith("# asyncinfer-client\n")


def test_every_python_block_of_the_readme_compiles():
    """The blocks the e2e test runs and those it does not (a webhook receiver) alike."""
    blocks = re.findall(r"```python\n(.*?)\n```", README.read_text(), re.S)
    assert len(blocks) >= 9
    for block in blocks:
        compile(block, "clients/python/README.md", "exec")


def test_the_built_wheel_carries_the_readme_as_its_long_description(tmp_path):
    # Built from a copy, so that the build leaves nothing in the work tree.
    source = tmp_path / "client"
    shutil.copytree(CLIENT, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("asyncinfer_client-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = email.message_from_string(archive.read(name).decode("utf-8"))
    assert metadata["Description-Content-Type"] == "text/markdown"
    assert metadata.get_payload().strip() == README.read_text().strip()

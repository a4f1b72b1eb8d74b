"""The function bundle without CDK (so the benchmarks and the artifact tests can build it too): the Linux
wheels pinned in requirements/lambda.lock, checked against its hashes, then a copy of the package."""

from __future__ import annotations

import platform
import shutil
import subprocess
import sys
from pathlib import Path

from infra.lock import LOCK, lock_problems

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "functions" / "asyncinfer"
# Lambda's python3.13 runtime: Amazon Linux 2023, glibc 2.34.
PYTHON_VERSION = "3.13"
GLIBC_TAGS = ("manylinux_2_34", "manylinux_2_28", "manylinux2014")
# A function's architecture (cdk.json's `architecture`) as it appears in wheel tags and ELF headers.
MACHINES = {"arm64": "aarch64", "x86_64": "x86_64"}


def platforms(architecture: str) -> list[str]:
    """pip's --platform values for a Lambda architecture, newest glibc first. pip expands none of them to
    older manylinux tags (only manylinux2014 to 2010 and 1 on x86), so each one a wheel may carry is listed:
    a wheel published only as manylinux_2_28 is still found, and no tag needs a glibc newer than 2.34."""
    machine = MACHINES[architecture]
    return [f"{tag}_{machine}" for tag in GLIBC_TAGS]


def this_machine() -> tuple[str, str]:
    """(architecture, python version) of the running interpreter: a bundle this machine can import."""
    machine = platform.machine()
    architecture = next(arch for arch, name in MACHINES.items() if name == machine)
    return architecture, f"{sys.version_info.major}.{sys.version_info.minor}"


def build_bundle(
    output_dir: Path, architecture: str, models_file: Path | None = None, python_version: str = PYTHON_VERSION
) -> None:
    """The code asset: exactly the lock's files (pip refuses any whose sha256 the lock does not list, and
    resolves nothing itself), the same bytes on every machine and every day, then the package."""
    problems = lock_problems(ROOT)
    if problems:
        raise RuntimeError("the bundle is built from the lock, which is not usable: " + "; ".join(problems))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-compile",
            "--require-hashes",
            "--no-deps",
            "--only-binary=:all:",
            "--target",
            str(output_dir),
            *(arg for tag in platforms(architecture) for arg in ("--platform", tag)),
            "--implementation",
            "cp",
            "--python-version",
            python_version,
            "-r",
            str(ROOT / LOCK),
        ],
        check=True,
    )
    drop_console_scripts(output_dir)
    shutil.copytree(
        PACKAGE, output_dir / "asyncinfer", dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    if models_file is not None:
        shutil.copyfile(models_file, output_dir / "asyncinfer" / "models.json")


def drop_console_scripts(output_dir: Path) -> None:
    """pip writes each console script into bin/ with the build interpreter's absolute path as its shebang,
    and that script's hash into RECORD: the one part of the install that depends on the machine and the
    checkout. Lambda runs none of them (the streaming start script runs `python3 -m uvicorn`)."""
    shutil.rmtree(output_dir / "bin", ignore_errors=True)
    for record in output_dir.glob("*.dist-info/RECORD"):
        lines = record.read_text().splitlines(keepends=True)
        kept = [line for line in lines if not line.startswith("../../bin/")]
        if kept != lines:
            record.write_text("".join(kept))

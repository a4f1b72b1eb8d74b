"""The function bundle without CDK (so the benchmarks and the artifact tests can build it too): Linux wheels
of the runtime dependencies from pip, then a copy of the package."""

from __future__ import annotations

import platform
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

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


def runtime_requirements() -> list[str]:
    """pyproject's [project] dependencies. boto3 is bundled too although the runtime has one: the X-Ray
    SDK pulls in a botocore, and boto3, botocore and s3transfer must come as one matching set."""
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]


def build_bundle(
    output_dir: Path, architecture: str, models_file: Path | None = None, python_version: str = PYTHON_VERSION
) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-compile",
            "--target",
            str(output_dir),
            *(arg for tag in platforms(architecture) for arg in ("--platform", tag)),
            "--implementation",
            "cp",
            "--python-version",
            python_version,
            "--only-binary=:all:",
            *runtime_requirements(),
        ],
        check=True,
    )
    shutil.copytree(
        PACKAGE, output_dir / "asyncinfer", dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    if models_file is not None:
        shutil.copyfile(models_file, output_dir / "asyncinfer" / "models.json")

"""The function bundle without CDK (so the benchmarks can build it too): Linux wheels of the runtime
dependencies from pip, then a copy of the package."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "functions" / "asyncinfer"
PYTHON_VERSION = "3.13"


def runtime_requirements() -> list[str]:
    """pyproject's [project] dependencies. boto3 is bundled too although the runtime has one: the X-Ray
    SDK pulls in a botocore, and boto3, botocore and s3transfer must come as one matching set."""
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]


def build_bundle(output_dir: Path, platform: str, models_file: Path | None = None) -> None:
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
            "--platform",
            platform,
            "--implementation",
            "cp",
            "--python-version",
            PYTHON_VERSION,
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

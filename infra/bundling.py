"""Docker-free Lambda bundling: pip downloads Linux wheels for the target, the package is copied in."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import jsii
from aws_cdk import BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "functions" / "asyncinfer"
PROVIDED_BY_LAMBDA = ("boto3", "botocore")


def runtime_requirements() -> list[str]:
    """pyproject's [project] dependencies, minus what the Lambda Python runtime already has."""
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return [d for d in dependencies if not d.startswith(PROVIDED_BY_LAMBDA)]


PYTHON_VERSION = "3.13"


@jsii.implements(ILocalBundling)
class LocalPipBundling:
    def __init__(self, platform: str) -> None:
        self._platform = platform

    def try_bundle(self, output_dir: str, *, image: DockerImage, **_: object) -> bool:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--no-compile",
                "--target",
                output_dir,
                "--platform",
                self._platform,
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
            PACKAGE,
            Path(output_dir) / "asyncinfer",
            dirs_exist_ok=True,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
        return True


def function_code(architecture: lambda_.Architecture) -> lambda_.Code:
    platform = "manylinux2014_aarch64" if architecture == lambda_.Architecture.ARM_64 else "manylinux2014_x86_64"
    return lambda_.Code.from_asset(
        str(PACKAGE.parent),
        bundling=BundlingOptions(
            # Required by the API, never pulled: local bundling always succeeds or fails loudly.
            image=lambda_.Runtime.PYTHON_3_13.bundling_image,
            local=LocalPipBundling(platform),
        ),
    )

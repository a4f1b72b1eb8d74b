"""Docker-free Lambda bundling: pip downloads Linux wheels for the target, the package is copied in."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "functions" / "asyncinfer"


def runtime_requirements() -> list[str]:
    """pyproject's [project] dependencies. boto3 is bundled too although the runtime has one: the X-Ray
    SDK pulls in a botocore, and boto3, botocore and s3transfer must come as one matching set."""
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]


PYTHON_VERSION = "3.13"


@jsii.implements(ILocalBundling)
class LocalPipBundling:
    def __init__(self, platform: str, models_file: Path | None = None) -> None:
        self._platform = platform
        self._models_file = models_file

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
        if self._models_file is not None:
            shutil.copyfile(self._models_file, Path(output_dir) / "asyncinfer" / "models.json")
        return True


def function_code(architecture: lambda_.Architecture, models_file: Path | None = None) -> lambda_.Code:
    """One asset for every function. A configured model registry replaces the packaged models.json;
    the asset is hashed by its output so a changed registry or dependency is a new deployment."""
    platform = "manylinux2014_aarch64" if architecture == lambda_.Architecture.ARM_64 else "manylinux2014_x86_64"
    return lambda_.Code.from_asset(
        str(PACKAGE.parent),
        asset_hash_type=AssetHashType.OUTPUT,
        bundling=BundlingOptions(
            # Required by the API, never pulled: local bundling always succeeds or fails loudly.
            image=lambda_.Runtime.PYTHON_3_13.bundling_image,
            local=LocalPipBundling(platform, models_file),
        ),
    )

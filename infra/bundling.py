"""Docker-free Lambda bundling: pip installs the lock's Linux wheels for the target, the package is copied in."""

from __future__ import annotations

from pathlib import Path

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

from infra.wheels import PACKAGE, build_bundle


@jsii.implements(ILocalBundling)
class LocalPipBundling:
    def __init__(self, architecture: str, models_file: Path | None = None) -> None:
        self._architecture = architecture
        self._models_file = models_file

    def try_bundle(self, output_dir: str, *, image: DockerImage, **_: object) -> bool:
        build_bundle(Path(output_dir), self._architecture, self._models_file)
        return True


def function_code(architecture: str, models_file: Path | None = None) -> lambda_.Code:
    """One asset for every function, its wheels for `architecture` ("arm64" or "x86_64", the configuration's
    string: jsii enum objects never compare equal in Python). A configured model registry replaces the
    packaged models.json; the asset is hashed by its output so a changed registry or dependency is a new
    deployment."""
    return lambda_.Code.from_asset(
        str(PACKAGE.parent),
        asset_hash_type=AssetHashType.OUTPUT,
        bundling=BundlingOptions(
            # Required by the API, never pulled: local bundling always succeeds or fails loudly.
            image=lambda_.Runtime.PYTHON_3_13.bundling_image,
            local=LocalPipBundling(architecture, models_file),
        ),
    )

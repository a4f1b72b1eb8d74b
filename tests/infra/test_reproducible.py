"""The code asset is reproducible: built twice from empty pip caches into different directories, it has the same
files with the same bytes, so CDK gives it the same asset hash (AssetHashType.OUTPUT fingerprints the bundle's
relative paths and file contents), and nothing in it names the machine that built it.
`make reproducible` shows the same through two real `cdk synth` runs per architecture."""

from __future__ import annotations

import email.parser
import hashlib
import sys
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from infra.lock import LOCK, parse_pins
from infra.wheels import MACHINES, ROOT, build_bundle

pytestmark = pytest.mark.infra


def contents(bundle: Path) -> dict[str, str]:
    """Each file's path in the bundle and the sha256 of its bytes."""
    return {
        path.relative_to(bundle).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(bundle.rglob("*"))
        if path.is_file()
    }


def cdk_asset_hash(bundle: Path) -> str:
    """The hash CDK gives a bundling output under AssetHashType.OUTPUT."""
    from aws_cdk import FileSystem

    return FileSystem.fingerprint(str(bundle))


@pytest.mark.parametrize("architecture", sorted(MACHINES))
def test_two_builds_from_empty_caches_are_the_same_asset(architecture, tmp_path, monkeypatch):
    builds = []
    for run in ("first", "second"):
        monkeypatch.setenv("PIP_CACHE_DIR", str(tmp_path / f"{run}-pip-cache"))
        out = tmp_path / run / "asset"
        out.mkdir(parents=True)
        build_bundle(out, architecture)
        builds.append(out)
    first, second = (contents(build) for build in builds)
    assert len(first) > 1000
    assert first == second
    assert cdk_asset_hash(builds[0]) == cdk_asset_hash(builds[1])
    assert not (builds[0] / "bin").exists(), "console scripts carry the build interpreter's path"
    host = [sys.prefix.encode(), sys.executable.encode(), str(tmp_path).encode()]
    mentions = [name for name in first if any(needle in (builds[0] / name).read_bytes() for needle in host)]
    assert not mentions, f"files that name the build machine's paths: {mentions[:5]}"


def test_the_bundle_installs_exactly_the_locks_pins(tmp_path):
    pins, _ = parse_pins((ROOT / LOCK).read_text())
    build_bundle(tmp_path, "arm64")
    installed = {}
    for metadata in tmp_path.glob("*.dist-info/METADATA"):
        fields = email.parser.HeaderParser().parsestr(metadata.read_text())
        installed[canonicalize_name(fields["Name"])] = fields["Version"]
    assert installed == {pin.name: pin.version for pin in pins}

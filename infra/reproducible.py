"""`make reproducible`: for each architecture, two real `cdk synth` runs, each in its own export of the committed
tree (HEAD when it starts, as a fresh clone has it, at another path) with an empty pip cache, a fresh HOME
(CDK's fingerprint cache lives there) and a fresh cloud assembly; the asset hashes they wrote must match.

`python -m infra.reproducible --app ARCH` is the app those synths run: cdk.json's app with the architecture
set in the context the CDK CLI hands it (the CLI's -c passes strings only, and `asyncinfer` is an object)."""

from __future__ import annotations

import argparse
import json
import os
import runpy
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from infra.wheels import MACHINES, ROOT


@dataclass(frozen=True)
class Synth:
    out: Path
    seconds: float
    assets: dict[str, str]  # every file asset's hash -> what it is (the template or a function's code)
    code: str  # the functions' code asset hash
    files: int
    size: int


def run_app(architecture: str) -> None:
    context = json.loads(os.environ["CDK_CONTEXT_JSON"])
    context["asyncinfer"] = {**context["asyncinfer"], "architecture": architecture}
    os.environ["CDK_CONTEXT_JSON"] = json.dumps(context)
    sys.argv = [str(Path.cwd() / "infra" / "app.py")]  # the export's, which the CLI runs this in
    runpy.run_path(sys.argv[0], run_name="__main__")


def export(commit: str, checkout: Path) -> None:
    """The commit's tree as a fresh clone has it, with this checkout's virtualenv and CDK CLI linked in."""
    checkout.mkdir(parents=True)
    tree = subprocess.run(["git", "archive", "--format=tar", commit], cwd=ROOT, check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(checkout)], input=tree.stdout, check=True)
    for tool in (".venv", "node_modules"):
        (checkout / tool).symlink_to(ROOT / tool)


def synth(architecture: str, commit: str, workdir: Path) -> Synth:
    checkout, home, cache = workdir / "checkout", workdir / "home", workdir / "pip-cache"
    out = checkout / "cdk.out"
    export(commit, checkout)
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "PIP_CACHE_DIR": str(cache), "NPM_CONFIG_UPDATE_NOTIFIER": "false"}
    app = f"{sys.executable} -m infra.reproducible --app {architecture}"
    started = time.monotonic()
    command = ["npx", "--no-install", "cdk", "synth", "--quiet", "--output", str(out), "--app", app]
    subprocess.run(command, cwd=checkout, env=env, check=True)
    seconds = time.monotonic() - started
    assets = {}
    for manifest in out.glob("*.assets.json"):
        for asset_hash, asset in json.loads(manifest.read_text())["files"].items():
            assets[asset_hash] = asset["source"]["path"]
    codes = set()
    for template in out.glob("*.template.json"):
        for resource in json.loads(template.read_text())["Resources"].values():
            if resource["Type"] == "AWS::Lambda::Function" and "S3Key" in resource["Properties"]["Code"]:
                assert resource["Properties"]["Architectures"] == [architecture]
                codes.add(resource["Properties"]["Code"]["S3Key"].removesuffix(".zip"))
    (code,) = codes
    files = [path for path in (out / f"asset.{code}").rglob("*") if path.is_file()]
    return Synth(out, seconds, assets, code, len(files), sum(path.stat().st_size for path in files))


def differing_files(first: Path, second: Path) -> list[str]:
    """Paths, relative to the bundles, that one has and the other lacks or holds with other bytes."""

    def files(root: Path) -> dict[str, bytes]:
        return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}

    a, b = files(first), files(second)
    return sorted(path for path in a.keys() | b.keys() if a.get(path) != b.get(path))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--app", choices=sorted(MACHINES), help="run the CDK app for this architecture")
    parser.add_argument("--keep", type=Path, help="synthesize into this directory and keep it")
    args = parser.parse_args()
    if args.app:
        run_app(args.app)
        return 0
    failures = 0
    # One commit for all four synths: HEAD may move while they run.
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, check=True, capture_output=True, text=True)
    commit = commit.stdout.strip()
    print(f"synthesizing {commit} twice per architecture")
    with tempfile.TemporaryDirectory(prefix="asyncinfer-reproducible-") as tmp:
        if args.keep:
            tmp = args.keep
        for architecture in sorted(MACHINES):
            runs = [synth(architecture, commit, Path(tmp) / f"{architecture}-{run}") for run in (1, 2)]
            for number, run in enumerate(runs, 1):
                print(
                    f"{architecture:7} synth {number}: {run.seconds:5.1f} s, code asset {run.code} "
                    f"({run.files:,} files, {run.size / 1e6:.1f} MB), {len(run.assets)} file assets"
                )
            same = runs[0].assets == runs[1].assets
            print(f"{architecture:7} {'identical asset hashes' if same else 'DIFFERENT asset hashes'}")
            if not same:
                failures += 1
                for path in differing_files(*(run.out / f"asset.{run.code}" for run in runs))[:20]:
                    print(f"        differs: {path}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

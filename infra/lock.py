"""The Lambda bundle's lock file (requirements/lambda.lock): what it pins, and whether it still matches pyproject.

Standard library and `packaging` only, so preflight can read it without the CDK toolchain."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
LOCK = Path("requirements") / "lambda.lock"
# The header line that ties a lock to the dependency list it was resolved from.
STAMP = "# pyproject-dependencies-sha256: "
HASH_OPTION = re.compile(r"\s--hash=(\S+)")


@dataclass(frozen=True)
class Pin:
    name: str
    version: str | None  # None: the line names no single version
    hashes: tuple[str, ...]
    line: str


def runtime_dependencies(root: Path = ROOT) -> list[str]:
    """pyproject's [project] dependencies: what runs inside Lambda."""
    return tomllib.loads((root / "pyproject.toml").read_text())["project"]["dependencies"]


def dependencies_digest(dependencies: list[str]) -> str:
    """A digest of the dependency list that does not change with its order or spacing."""
    normalized = sorted(str(Requirement(dependency)) for dependency in dependencies)
    return hashlib.sha256("\n".join(normalized).encode()).hexdigest()


def logical_lines(text: str) -> list[str]:
    """The lock's requirement lines, continuations joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", text)
    lines = (line.split(" #", 1)[0].strip() for line in joined.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def parse_pins(text: str) -> tuple[list[Pin], list[str]]:
    """Each requirement line as a pin, and the lines that are no requirement at all."""
    pins, problems = [], []
    for line in logical_lines(text):
        hashes = tuple(HASH_OPTION.findall(f" {line}"))
        requirement_text = HASH_OPTION.sub("", f" {line}").strip()
        try:
            requirement = Requirement(requirement_text)
        except InvalidRequirement:
            problems.append(f"the lock line {requirement_text!r} is no requirement")
            continue
        specs = list(requirement.specifier)
        exact = len(specs) == 1 and specs[0].operator == "=="
        version = specs[0].version if exact else None
        pins.append(Pin(canonicalize_name(requirement.name), version, hashes, requirement_text))
    return pins, problems


def stamp(text: str) -> str | None:
    return next((line.removeprefix(STAMP).strip() for line in text.splitlines() if line.startswith(STAMP)), None)


def lock_problems(root: Path = ROOT) -> list[str]:
    """What is wrong with the lock the bundle is built from, in words; empty when it is consistent with
    pyproject.toml: present, made from the current dependency list, every dependency pinned within its
    range, every pin hashed."""
    path = root / LOCK
    if not path.is_file():
        return [f"{LOCK} is missing: run `make lock`"]
    text = path.read_text()
    dependencies = runtime_dependencies(root)
    pins, problems = parse_pins(text)
    made_from = stamp(text)
    if made_from is None:
        problems.append(f"{LOCK} does not say which dependency list it was made from: run `make lock`")
    elif made_from != dependencies_digest(dependencies):
        problems.append(f"{LOCK} was made from another [project] dependencies list in pyproject.toml: run `make lock`")
    by_name = {pin.name: pin for pin in pins}
    for pin in pins:
        if pin.version is None:
            problems.append(f"{pin.line!r} in {LOCK} is not pinned to one version (==)")
        if not pin.hashes:
            problems.append(f"{pin.name}=={pin.version} in {LOCK} has no --hash")
    for dependency in dependencies:
        requirement = Requirement(dependency)
        pin = by_name.get(canonicalize_name(requirement.name))
        if pin is None:
            problems.append(f"{requirement.name} (pyproject.toml) is not pinned in {LOCK}")
        elif pin.version is not None and not requirement.specifier.contains(pin.version, prereleases=True):
            problems.append(f"{LOCK} pins {pin.name}=={pin.version}, outside pyproject's {dependency!r}")
    return problems


# ---- regeneration (`make lock`; needs uv, which the build itself does not) --------------------------------

# Lambda's python3.13 runtime (Amazon Linux 2023, glibc 2.34) on each architecture, as uv names the platform.
UV_PLATFORMS = {"arm64": "aarch64-manylinux_2_34", "x86_64": "x86_64-manylinux_2_34"}
PYTHON_VERSION = "3.13"


def compile_for(platform: str, root: Path) -> str:
    """uv's resolution of pyproject's runtime dependencies for one Lambda platform, wheels only, with the
    hash of every file of each pinned version."""
    command = [sys.executable, "-m", "uv", "pip", "compile", "pyproject.toml", "--quiet", "--generate-hashes"]
    command += ["--python-version", PYTHON_VERSION, "--python-platform", platform, "--only-binary", ":all:"]
    command += ["--no-header", "--no-annotate", "--no-config"]
    return subprocess.run(command, cwd=root, check=True, capture_output=True, text=True).stdout


def write_lock(root: Path = ROOT) -> Path:
    """One lock for both architectures, refused if they resolve differently."""
    resolved = {architecture: compile_for(platform, root) for architecture, platform in UV_PLATFORMS.items()}
    if len(set(resolved.values())) != 1:
        raise SystemExit(f"arm64 and x86_64 resolve to different pins: one lock cannot serve both\n{resolved}")
    header = [
        "# The Lambda bundle's runtime dependencies ([project] dependencies of pyproject.toml), each pinned with",
        "# the sha256 of every file PyPI has for that version. Made by `make lock` (uv pip compile for Python",
        f"# {PYTHON_VERSION} on {' and '.join(UV_PLATFORMS.values())}, which resolve alike); infra/wheels.py",
        "# installs it with pip --require-hashes --no-deps. Do not edit by hand.",
        f"{STAMP}{dependencies_digest(runtime_dependencies(root))}",
    ]
    path = root / LOCK
    path.parent.mkdir(exist_ok=True)
    path.write_text("\n".join(header) + "\n" + resolved["arm64"])
    return path


if __name__ == "__main__":
    print(f"wrote {write_lock().relative_to(ROOT)}")

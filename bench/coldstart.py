"""(b) Cold-start proxy: each handler module's import time (`python -X importtime`, median of 5 fresh
interpreters) as a ratio to a bare `import boto3`, and the unzipped size of the code asset."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from asyncinfer.routes import HANDLERS, STREAM_APP
from bench.common import SMOKE, Row, median
from infra.wheels import build_bundle

ROOT = Path(__file__).resolve().parent.parent
TARGET_RATIO = 2.0  # issue 36's figure
RUNS = 5
_LINE = re.compile(r"^import time:\s+\d+ \|\s+(\d+) \|\s*(\S+)\s*$")
# What a function imports with its first span on AWS (asyncinfer.observability.exporting._otlp): protobuf,
# requests and the OTLP exporter, on top of the handler.
EXPORTER = "opentelemetry.exporter.otlp.proto.http.trace_exporter"
_TOP = re.compile(r"^import time:\s+\d+ \|\s+(\d+) \| (\S+)\s*$")  # one space: not nested in another import


# What the functions that Lambda Web Adapter serves run (their handlers/<name>.sh: `python3 -m uvicorn module:app`):
# uvicorn is imported, asyncio with it, before it imports the app, as Lambda's own runtime is for a zip function's
# handler. Their row is what the app adds to that process.
SERVER = "uvicorn"


def served(name: str) -> bool:
    """Whether function `name` is an ASGI app its script serves with uvicorn (the stream and Responses functions)."""
    script = ROOT / "functions" / "asyncinfer" / "handlers" / f"{name}.sh"
    return script.exists() and f"-m {SERVER} " in script.read_text()


def handler_modules() -> dict[str, str]:
    modules = {name: path.rpartition(".")[0] for name, path in HANDLERS.items() if not path.endswith(".sh")}
    modules["stream"] = STREAM_APP.partition(":")[0]
    return modules


def _importtime(code: str) -> list[str]:
    """What `python -X importtime -c CODE` reports, in a fresh interpreter with the package on its path."""
    # The variable every deployed function has (infra/components/function.py) that changes what an import does.
    deployed = {"PYDANTIC_DISABLE_PLUGINS": "__all__"}
    env = {**os.environ, **deployed, "PYTHONPATH": str(ROOT / "functions"), "PYTHONDONTWRITEBYTECODE": "0"}
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return done.stderr.splitlines()


def import_seconds(module: str) -> float:
    """Cumulative import time of `module` in a fresh interpreter, as -X importtime reports it."""
    for line in reversed(_importtime(f"import {module}")):
        found = _LINE.match(line)
        if found and found.group(2) == module:
            return int(found.group(1)) / 1e6
    raise RuntimeError(f"no import time reported for {module}")


def import_after_seconds(module: str, first: str) -> float:
    """What importing `module` adds once `first` is imported: the imports that start after `first`'s ends."""
    lines = [found.groups() for line in _importtime(f"import {first}; import {module}") if (found := _TOP.match(line))]
    ends = max(i for i, (_, name) in enumerate(lines) if name == first)
    return sum(int(cumulative) for cumulative, _ in lines[ends + 1 :]) / 1e6


def median_import(module: str, runs: int, after: str | None = None) -> float:
    """Median of `runs` fresh imports of `module` (`after`: what it adds once `after` is imported)."""

    def once() -> float:
        return import_after_seconds(module, after) if after else import_seconds(module)

    once()  # warm the bytecode cache, as a deployed package ships compiled or compiles once
    return median([once() for _ in range(runs)])


def asset_megabytes() -> float | None:
    """The code asset every function deploys (pip's Linux wheels plus the package), unzipped."""
    with tempfile.TemporaryDirectory() as out:
        build_bundle(Path(out), "arm64")
        return sum(p.stat().st_size for p in Path(out).rglob("*") if p.is_file()) / 1e6


def run() -> Row:
    runs = 2 if SMOKE else RUNS
    base = median_import("boto3", runs)
    modules = handler_modules()
    ratios = {
        name: median_import(module, runs, SERVER if served(name) else None) / base for name, module in modules.items()
    }
    server = median_import(SERVER, runs) / base
    worst = max(ratios, key=ratios.get)
    size = None if SMOKE else asset_megabytes()
    import_after_seconds(EXPORTER, modules[worst])  # warm the bytecode cache
    exporter = median([import_after_seconds(EXPORTER, modules[worst]) for _ in range(runs)]) / base
    details = [
        f"import boto3: {base * 1000:.0f} ms (median of {runs}); each import with the deployed PYDANTIC_DISABLE_PLUGINS"
    ]
    details.append(", ".join(f"{name} {ratio:.2f}x" for name, ratio in sorted(ratios.items())))
    scripted = sorted(name for name in modules if served(name))
    details.append(
        f"{' and '.join(scripted)}: what the app adds once {SERVER} (which their script runs) is imported;"
        f" {SERVER} itself: {server:.2f}x"
    )
    missed = sorted(name for name, ratio in ratios.items() if ratio > TARGET_RATIO)
    details.append(f"over {TARGET_RATIO}x: " + (", ".join(missed) if missed else "none"))
    details.append(
        f"tracing on AWS (the OTLP exporter, imported with the first span): +{exporter:.2f}x import boto3 after"
        f" {worst}, {ratios[worst] + exporter:.2f}x in all"
    )
    details.append(
        "code asset (one for every function), unzipped: "
        + (f"{size:.1f} MB" if size is not None else "not built in the smoke run")
    )
    return Row(
        "b. cold start (imports)",
        f"worst {worst} {ratios[worst]:.2f}x import boto3; {len(ratios) - len(missed)} of {len(ratios)} within",
        f"every handler <= {TARGET_RATIO}x",
        not missed,
        details,
    )

"""The deployable artifact itself, not the laptop path: what each function's code asset holds.

- A synth of each architecture bundles wheels whose native code runs on that architecture and on Lambda's
  Python (read from the ELF headers and the extension names, not from what pip was asked).
- A bundle built by the same code for this machine is all a fresh interpreter needs: with only the bundle
  and the standard library on sys.path, every handler imports and handles its sample event against the
  emulator, and the streaming function's start script serves its app."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from asyncinfer.routes import HANDLERS
from asyncinfer.store.dynamodb import DynamoTaskStore
from infra.local.emulator import Emulator
from infra.wheels import MACHINES, build_bundle, this_machine
from tests.infra.conftest import synthesize
from tests.integration.conftest import ENV, Aws
from tests.integration.test_sample_events import PRUNER_ENV, SAMPLE_EVENTS, check_sample_event, through_web_adapter
from tests.support.durable import DurableRuntime
from tests.support.lambda_versions import LambdaVersions

pytestmark = pytest.mark.infra

RUNNER = Path(__file__).with_name("bundle_runner.py")
ELF_MACHINES = {62: "x86_64", 183: "aarch64"}  # e_machine: EM_X86_64, EM_AARCH64
LAMBDA_PYTHON = "cp313"


def elf_machine(path: Path) -> str | None:
    """The architecture an ELF file is built for, None if it is no ELF file."""
    with path.open("rb") as f:
        header = f.read(20)
    if header[:4] != b"\x7fELF":
        return None
    byteorder = "little" if header[5] == 1 else "big"
    return ELF_MACHINES.get(int.from_bytes(header[18:20], byteorder), f"e_machine {header[18:20].hex()}")


def extension_abi_problem(path: Path, machine: str) -> str | None:
    """A Python extension module must be built for Lambda's CPython (cp313) or the stable ABI; shared
    libraries that auditwheel vendors (in <package>.libs/) are not extension modules."""
    if any(part.endswith(".libs") for part in path.parts):
        return None
    if path.name.endswith(".abi3.so") or path.name.endswith(f".cpython-313-{machine}-linux-gnu.so"):
        return None
    return f"{path.name} is not a cpython-313-{machine} or abi3 extension"


def wheel_tag_problems(asset: Path, machine: str) -> list[str]:
    """Each installed wheel's own tags (its .dist-info/WHEEL): pure, or this machine and Lambda's Python."""
    problems = []
    for wheel in asset.glob("*.dist-info/WHEEL"):
        for tag in re.findall(r"^Tag: (\S+)$", wheel.read_text(), flags=re.M):
            python, abi, platform = tag.split("-")
            pure = platform == "any" and abi == "none"
            native = (
                platform.endswith(f"_{machine}")
                and platform.startswith("manylinux")
                and abi
                in (
                    "abi3",
                    LAMBDA_PYTHON,
                )
            )
            if not (pure or native) or not (python.startswith("py") or python.startswith("cp3")):
                problems.append(f"{wheel.parent.name}: {tag}")
    return problems


def asset_dirs(outdir: Path, resources: dict) -> dict[str, tuple[Path, str]]:
    """Each function's unzipped code asset in cdk.out, with the function's architecture."""
    found = {}
    for name, resource in resources.items():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        props = resource["Properties"]
        key = props["Code"]["S3Key"]
        (arch,) = props["Architectures"]
        found[name] = (outdir / f"asset.{key.removesuffix('.zip')}", arch)
    return found


@pytest.mark.parametrize("architecture", sorted(MACHINES))
def test_every_native_extension_in_every_asset_matches_the_function_architecture(architecture, tmp_path):
    _, template = synthesize(bundle=True, outdir=str(tmp_path), architecture=architecture)
    assets = asset_dirs(tmp_path, template.to_json()["Resources"])
    assert len(assets) >= 10
    machine = MACHINES[architecture]
    checked: set[Path] = set()
    for function, (asset, arch) in assets.items():
        assert arch == architecture, f"{function} is {arch}, the configuration says {architecture}"
        assert asset.is_dir(), f"{function}'s asset {asset.name} was not bundled"
        if asset in checked:
            continue
        checked.add(asset)
        elf = {path: elf_machine(path) for path in asset.rglob("*") if path.is_file()}
        elf = {path: found for path, found in elf.items() if found}
        assert any(path.name.startswith("_pydantic_core") for path in elf), "no native code found at all"
        wrong_arch = sorted(f"{p.relative_to(asset)}: {m}" for p, m in elf.items() if m != machine)
        assert not wrong_arch, f"{len(wrong_arch)} native files not built for {machine}: {wrong_arch[:8]}"
        wrong_abi = sorted(filter(None, (extension_abi_problem(p.relative_to(asset), machine) for p in elf)))
        assert not wrong_abi, wrong_abi
        assert not wheel_tag_problems(asset, machine)
        stream = asset / HANDLERS["stream"]
        assert os.access(stream, os.X_OK), "Lambda Web Adapter runs the start script: it must be executable"


# ---- the bundle alone on sys.path ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def bundle():
    """A bundle built by the deployed code path (infra.wheels) for this machine's architecture and Python."""
    architecture, python = this_machine()
    with tempfile.TemporaryDirectory(prefix="asyncinfer-bundle-") as out:
        build_bundle(Path(out), architecture, python_version=python)
        yield Path(out)


@pytest.fixture(scope="session")
def emulator():
    emulator = Emulator()
    emulator.start()
    yield emulator
    emulator.stop()


class BundledFunctions:
    """The handlers as a fresh interpreter runs them from the bundle alone (python -S -s -E: no site-packages,
    no user site, no PYTHONPATH), one process per set of settings, like a Lambda execution environment."""

    def __init__(self, bundle: Path, env: dict[str, str]) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-S", "-s", "-E", str(RUNNER), str(bundle)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            text=True,
        )

    def ask(self, request: dict) -> dict:
        assert self._process.stdin and self._process.stdout
        self._process.stdin.write(json.dumps(request) + "\n")
        self._process.stdin.flush()
        reply = json.loads(self._process.stdout.readline() or '{"error": "the interpreter exited"}')
        assert "error" not in reply, reply["error"]
        return reply

    def invoke(self, name: str, event: dict):
        return self.ask({"handler": HANDLERS[name], "event": event})["result"]

    def close(self) -> None:
        self._process.kill()
        self._process.wait()


def function_env(resources) -> dict[str, str]:
    """What a function sees: its settings and the emulator; nothing else of this test process."""
    return {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), **ENV, **resources.env()}


def foreign_modules(modules: dict[str, str | None], bundle: Path) -> list[str]:
    """Modules loaded from anywhere but the bundle and the standard library."""
    allowed = [str(bundle), sysconfig.get_path("stdlib"), sysconfig.get_path("platstdlib")]

    def foreign(path: str) -> bool:
        return not any(path.startswith(root) for root in allowed) or "site-packages" in path.replace(str(bundle), "")

    runner = {"__main__", "__mp_main__"}
    return sorted(f"{name}: {path}" for name, path in modules.items() if path and name not in runner and foreign(path))


def test_every_handler_module_imports_from_the_bundle_alone(bundle, emulator):
    functions = BundledFunctions(bundle, function_env(emulator.create_resources("imports")))
    try:
        modules = {
            name: functions.ask({"handler": target if name != "stream" else "asyncinfer.handlers.stream.app"})
            for name, target in HANDLERS.items()
        }
        assert set(modules) == set(HANDLERS)
        loaded = functions.ask({"modules": True})["modules"]
    finally:
        functions.close()
    assert "pydantic_core._pydantic_core" in loaded and "asyncinfer.handlers.worker" in loaded
    assert not foreign_modules(loaded, bundle)


def serve_stream_app(bundle: Path, env: dict[str, str], tmp: Path) -> tuple[subprocess.Popen, str]:
    """The streaming function's start script as Lambda Web Adapter runs it (LAMBDA_TASK_ROOT = the bundle),
    with `python3` an interpreter that has no site-packages."""
    bin_dir = tmp / "bin"
    bin_dir.mkdir()
    python3 = bin_dir / "python3"
    python3.write_text(f'#!/bin/sh\nexec "{sys.executable}" -S -s "$@"\n')
    python3.chmod(0o755)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen(
        [str(bundle / HANDLERS["stream"])],
        env={**env, "PATH": f"{bin_dir}:{env['PATH']}", "LAMBDA_TASK_ROOT": str(bundle), "PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:  # Lambda Web Adapter's readiness check, on the same path
        assert process.poll() is None, "the start script exited"
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            assert time.monotonic() < deadline, "the streaming app never became ready"
            time.sleep(0.1)


@pytest.mark.parametrize("name", SAMPLE_EVENTS)
def test_each_handler_runs_its_sample_event_from_the_bundle_alone(bundle, emulator, name, tmp_path):
    prefix = "b" + re.sub(r"[^a-z0-9]", "", name)[:20]
    resources = emulator.create_resources(prefix)
    env = function_env(resources)
    clients = {service: emulator.client(service) for service in ("dynamodb", "sqs", "s3", "dynamodbstreams")}
    store = DynamoTaskStore(clients["dynamodb"], resources.table_name)
    durable = None
    if name.startswith("runner"):
        # The bundle is the runner's instance: the durable service invokes it, it checkpoints to the service.
        durable = DurableRuntime(lambda event: functions.invoke("runner", event)).__enter__()
        env = {**env, "AWS_ENDPOINT_URL_LAMBDA": durable.front.url}
    if name.startswith("pruner"):
        env = {**env, **PRUNER_ENV, "AWS_ENDPOINT_URL_LAMBDA": LambdaVersions.shared().url}
    functions = BundledFunctions(bundle, env)
    server = None
    try:
        aws = Aws(
            resources, clients["dynamodb"], clients["sqs"], clients["s3"], store, functions, clients["dynamodbstreams"]
        )
        if name.startswith("stream"):
            server, url = serve_stream_app(bundle, env, tmp_path)
            check_sample_event(aws, name, lambda event: through_web_adapter(event, base_url=url))
        else:
            check_sample_event(aws, name, through_web_adapter, durable)
        assert not foreign_modules(functions.ask({"modules": True})["modules"], bundle)
    finally:
        functions.close()
        if durable is not None:
            durable.__exit__(None, None, None)
        if server is not None:
            server.kill()
            server.wait()

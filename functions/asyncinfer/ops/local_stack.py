"""The running local stack (`make dev`), as the admin commands find it: the settings file it writes, whether
it still runs, and the AWS settings a command aimed at its emulator needs. With no table and no endpoint
given, an admin command works against the running local stack: nothing to type."""

from __future__ import annotations

import ipaddress
import json
import os
import socket
from pathlib import Path
from urllib.parse import urlsplit

LOCAL_STACK_FILE = ".asyncinfer/local.json"
# Written by `make dev` into that file beside the functions' settings: the stack's process and its API.
STACK_PID = "ASYNCINFER_LOCAL_PID"
STACK_URL = "ASYNCINFER_LOCAL_URL"
LOCAL_REGION = "us-east-1"  # The local stack's emulator keeps its resources in this region (infra/local/resources.py).


class NoLocalStack(Exception):
    """No local stack answers for a settings file: there is none, or the one that wrote it is gone."""


def local_stack(stack_file: Path) -> dict[str, str]:
    """The settings of the local stack that wrote `stack_file`, if it still runs; NoLocalStack says why not."""
    try:
        settings = json.loads(stack_file.read_text())
    except FileNotFoundError:
        raise NoLocalStack(
            f"no local stack is running ({stack_file} does not exist): start one with `make dev`"
        ) from None
    except (OSError, ValueError) as exc:
        raise NoLocalStack(f"cannot read the local stack's settings in {stack_file} ({exc})") from None
    if not isinstance(settings, dict):
        raise NoLocalStack(f"{stack_file} is not a local stack's settings file")
    pid, endpoint = settings.get(STACK_PID), str(settings.get("AWS_ENDPOINT_URL", ""))
    if (pid is not None and not process_alive(pid)) or not _listening(endpoint):
        raise NoLocalStack(
            f"the local stack that wrote {stack_file} is no longer running (pid {pid}, emulator {endpoint or '?'}): "
            "start it again with `make dev`"
        )
    return {str(name): str(value) for name, value in settings.items()}


def process_alive(pid: int | str) -> bool:
    try:
        if int(pid) <= 0:  # not one process: kill would signal a group
            return False
        os.kill(int(pid), 0)
    except (ProcessLookupError, ValueError, OverflowError):
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _listening(url: str) -> bool:
    parts = urlsplit(url)
    if not parts.hostname or not parts.port:
        return False
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=2):
            return True
    except OSError:
        return False


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def local_endpoint_defaults() -> None:
    """A command aimed at the local stack's emulator (AWS_ENDPOINT_URL on loopback) needs no AWS settings:
    the emulator takes any credentials, but botocore wants a region and some credentials to sign with."""
    if not _is_loopback(os.environ.get("AWS_ENDPOINT_URL", "")):
        return
    if not (os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")):
        os.environ["AWS_DEFAULT_REGION"] = LOCAL_REGION
    if not os.environ.get("AWS_ACCESS_KEY_ID"):
        os.environ["AWS_ACCESS_KEY_ID"] = os.environ["AWS_SECRET_ACCESS_KEY"] = "local"


def adopt_local_stack(argv: list[str]) -> None:
    """A command given no table (neither --table nor ASYNCINFER_TABLE_NAME) and no endpoint runs against the
    running local stack, if one runs: its emulator and table become the defaults. Anything given wins."""
    if "--table" in argv or any(a.startswith("--table=") for a in argv):
        return
    if os.environ.get("ASYNCINFER_TABLE_NAME") or os.environ.get("AWS_ENDPOINT_URL"):
        return
    try:
        settings = local_stack(Path(os.environ.get("ASYNCINFER_STACK_FILE", LOCAL_STACK_FILE)))
    except NoLocalStack:
        return
    for name in ("AWS_ENDPOINT_URL", "ASYNCINFER_TABLE_NAME", "ASYNCINFER_TRACES_FILE", "ASYNCINFER_AUDIT_TABLE_NAME"):
        if settings.get(name):
            os.environ[name] = settings[name]

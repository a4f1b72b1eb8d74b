"""Every AWS call a deployed function's own code makes, as the IAM action it needs and the resource IAM
authorizes it on (tests/support/iam_actions.py), recorded from botocore's `before-parameter-build` and
`before-call` events wherever a function's handler runs.

The handler is attributed by `infra.local.functions.RUNNING`. `install` puts the recorder among botocore's
built-in handlers, which every botocore session registers when it is made (moto mocks botocore the same way),
so every client sees it. The local stack's processes (the e2e tests) install it at startup
(tests/support/aws_calls_site) and append what they record to the file named by ASYNCINFER_AWS_CALLS.
"""

from __future__ import annotations

import contextvars
import importlib.abc
import importlib.util
import json
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

from tests.support.iam_actions import REGION, authorizations, writes_of

ENV = "ASYNCINFER_AWS_CALLS"


class Call(NamedTuple):
    function: str
    action: str
    resource: str | None  # None: the request does not name it (IAM then authorizes on "*" or the ciphertext's key)


class Write(NamedTuple):
    """A write to the table, held to the role's denials (dynamodb:LeadingKeys, dynamodb:Attributes)."""

    function: str
    action: str
    partition: str
    attributes: frozenset[str]


_KEY = "asyncinfer_aws_calls"
# Where the local stack runs the demo video model's jobs and the demo batch models' batch jobs; a deployment
# refuses the video model at submit and sends no batch job to them.
STAND_INS = ("ASYNCINFER_DEMO_VIDEO_JOBS_URL", "ASYNCINFER_DEMO_BATCH_JOBS_URL")


def _stand_in(url: str) -> bool:
    return any((base := os.environ.get(name)) and url.startswith(base) for name in STAND_INS)


def running() -> str | None:
    functions = sys.modules.get("infra.local.functions")  # not imported: no function runs here
    return functions.RUNNING.get() if functions is not None else None


def _in_a_handler() -> bool:
    """Whether this thread runs a handler (its entry frame is on the stack) or work a handler handed to a
    thread pool: the function's name in the context is then this call's, not one a context carried off."""
    if getattr(_handed, "depth", 0):
        return True
    frame = sys._getframe(2)
    while frame is not None:
        if (frame.f_code.co_name, frame.f_globals.get("__name__")) in _ENTRIES:
            return True
        frame = frame.f_back
    return False


def _caller_local(function: str, name: str) -> Any:
    frame = sys._getframe(2)
    while frame is not None and frame.f_code.co_name != function:
        frame = frame.f_back
    return frame.f_locals.get(name, "*") if frame is not None else "*"


_ENTRIES = {("run", "infra.local.functions"), ("as_stream", __name__)}


def _issued_by_tests() -> bool:
    """Whether the code that called the client is a test's: a fault it injects while a function runs (a fake
    provider that purges the task), or a test double it forwards through. Neither is the function's call; the
    calls a double forwards are the function's own in the tests that run without it."""
    frame = sys._getframe(2)
    while frame is not None and frame.f_globals.get("__name__", "").startswith(("botocore.", "boto3.", __name__)):
        frame = frame.f_back
    return frame is not None and frame.f_globals.get("__name__", "").startswith("tests.")


class Recorder:
    """What every function called; `watch()` also hands each call to a listener (one test's view)."""

    def __init__(self, sink: str | None = None) -> None:
        self.calls: set[Call] = set()
        self.writes: set[Write] = set()
        self.listeners: list[Recorder] = []
        self._sink = sink
        self._lock = threading.Lock()

    def __call__(self, params: dict, model: Any, context: dict | None = None, event_name: str = "", **_: Any) -> None:
        """before-parameter-build: what the call needs; before-call (it is being sent): kept, unless it goes to a
        local stand-in for something a deployment does not call (the demo video model's job service)."""
        context = context if context is not None else {}
        if event_name.startswith("before-call"):
            found = context.pop(_KEY, None)
            if found is not None and not _stand_in(params.get("url", "")):
                self.add(*found)
            return
        function = running()
        if function is None or not _in_a_handler() or _issued_by_tests():
            return
        service, operation = model.service_model, model.name
        if context.get("is_presign_request") and (service.endpoint_prefix, operation) == ("s3", "CreateBucket"):
            # botocore presigns a POST with CreateBucket's model: the form uploads the object under Key.
            operation, params = "PutObject", {**params, "Key": _caller_local("generate_presigned_post", "Key")}
        region = context.get("client_region") or REGION
        needs = authorizations(service.endpoint_prefix, service.signing_name, operation, params, region)
        calls = [Call(function, action, resource) for action, resource in needs]
        writes = (
            [Write(function, *w) for w in writes_of(operation, params)] if service.endpoint_prefix == "dynamodb" else []
        )
        if context.get("is_presign_request"):  # nothing is sent: the URL carries the signer's permissions
            self.add(calls, writes)
        else:
            context[_KEY] = (calls, writes)

    def add(self, calls: list[Call], writes: list[Write]) -> None:
        with self._lock:
            new = [c for c in calls if c not in self.calls] + [w for w in writes if w not in self.writes]
            self.calls.update(calls)
            self.writes.update(writes)
            listeners = list(self.listeners)
        for listener in listeners:
            listener.add(calls, writes)
        if self._sink and new:
            lines = "".join(json.dumps({"write" if isinstance(r, Write) else "call": _plain(r)}) + "\n" for r in new)
            with open(self._sink, "a") as out:  # one write of whole lines: appends from processes do not mix
                out.write(lines)

    def snapshot(self) -> tuple[set[Call], set[Write]]:
        """The calls and writes so far (a runner's invocation may still be recording)."""
        with self._lock:
            return set(self.calls), set(self.writes)

    def load(self, path: str) -> None:
        """Add what other processes appended to `path`."""
        if not os.path.exists(path):
            return
        with open(path) as lines:
            for line in lines:
                ((kind, value),) = json.loads(line).items()
                if kind == "call":
                    self.calls.add(Call(*value))
                else:
                    self.writes.add(Write(value[0], value[1], value[2], frozenset(value[3])))


def _plain(record: Call | Write) -> list:
    return [sorted(v) if isinstance(v, frozenset) else v for v in record]


_handed = threading.local()


def _in_context(submit):  # a function's thread pool runs its work as that function
    def submitted(self, fn, /, *args, **kwargs):
        context = contextvars.copy_context()

        def handed():
            _handed.depth = getattr(_handed, "depth", 0) + 1
            try:
                return context.run(fn, *args, **kwargs)
            finally:
                _handed.depth -= 1

        return submit(self, handed)

    submitted.recording = True
    return submitted


def install(recorder: Recorder) -> None:
    """Every botocore session made from now on hands each call to `recorder`; the default session too."""
    import boto3
    from botocore.handlers import BUILTIN_HANDLERS

    for event in ("before-parameter-build", "before-call"):
        BUILTIN_HANDLERS.append((event, recorder))
        if boto3.DEFAULT_SESSION is not None:
            boto3.DEFAULT_SESSION._session.register(event, recorder)
    if not getattr(ThreadPoolExecutor.submit, "recording", False):
        ThreadPoolExecutor.submit = _in_context(ThreadPoolExecutor.submit)  # type: ignore[method-assign]


def name_the_stream_app(module: Any) -> None:
    """The streaming function is an ASGI app Lambda Web Adapter serves, not a handler LocalFunctions invokes:
    its requests run as "stream"."""
    from infra.local.functions import RUNNING

    app = module.app
    if getattr(app, "named", False):
        return

    async def as_stream(scope: dict, receive: Any, send: Any) -> None:
        token = RUNNING.set("stream")
        try:
            await app(scope, receive, send)
        finally:
            RUNNING.reset(token)

    as_stream.named = True  # type: ignore[attr-defined]
    module.app = as_stream


class AfterImport(importlib.abc.MetaPathFinder):
    """Runs `callback(module)` once the module `name` is imported (now, if it already is)."""

    def __init__(self, name: str, callback: Any) -> None:
        self._name, self._callback = name, callback

    def install(self) -> None:
        if self._name in sys.modules:
            self._callback(sys.modules[self._name])
        else:
            sys.meta_path.insert(0, self)

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != self._name:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def run(module: Any) -> None:
            exec_module(module)
            self._callback(module)

        spec.loader.exec_module = run  # type: ignore[method-assign]
        return spec


def install_everywhere(recorder: Recorder) -> None:
    """`install`, and the stream app named when it is imported."""
    install(recorder)
    AfterImport("asyncinfer.handlers.stream", name_the_stream_app).install()

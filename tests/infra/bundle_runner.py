"""Runs inside a fresh interpreter (`python -S -s -E`) whose sys.path is a Lambda bundle plus the standard
library, nothing else: imports handlers and invokes them the way the Lambda runtime would.

One JSON request per line on stdin: {"handler": "module.function", "event": {...}} invokes it;
{"modules": true} lists every module loaded so far with its file. One JSON answer per line on stdout.
Standard library only: nothing of the test environment may leak in."""

import importlib
import json
import sys
import time
import traceback
import uuid

BUNDLE = sys.argv[1]
sys.path.insert(0, BUNDLE)
ANSWERS = sys.stdout
# The handlers log to stdout (Powertools' default stream, taken when a logger is made): keep it apart.
sys.stdout = sys.stderr


class Context:
    """The parts of the Lambda context object the handlers (and Powertools) read."""

    def __init__(self, name: str, timeout_seconds: float = 30) -> None:
        self.function_name = f"asyncinfer-{name}"
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 1024
        self.aws_request_id = str(uuid.uuid4())
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:000000000000:function:{self.function_name}"
        self.log_group_name = self.log_stream_name = "bundle"
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def answer(request: dict) -> dict:
    if request.get("modules"):
        return {"modules": {name: getattr(m, "__file__", None) for name, m in list(sys.modules.items())}}
    module, _, attr = request["handler"].rpartition(".")
    handler = getattr(importlib.import_module(module), attr)
    if "event" not in request:
        return {"imported": module}
    return {"result": handler(request["event"], Context(module.rpartition(".")[2]))}


for line in sys.stdin:
    try:
        reply = answer(json.loads(line))
    except BaseException:  # the test reads the traceback
        reply = {"error": traceback.format_exc()}
    ANSWERS.write(json.dumps(reply, default=str) + "\n")
    ANSWERS.flush()

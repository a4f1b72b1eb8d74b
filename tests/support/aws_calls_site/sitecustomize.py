"""On PYTHONPATH in the test suite's child processes (tests/support/aws_calls_plugin.py): the local stack's
processes, where the functions run, record the AWS calls they make (tests/support/aws_calls.py) into the file
ASYNCINFER_AWS_CALLS names. Any other process is left as it is."""

import os
import sys

# The local stack's processes that run functions' handlers: the stack, a worker lane, the runner's instance.
_RUN_FUNCTIONS = {"infra.local", "infra.local.__main__", "infra.local.lane", "infra.local.runner_host"}


def _record() -> None:
    sink, argv = os.environ.get("ASYNCINFER_AWS_CALLS"), sys.orig_argv
    if not sink or "-m" not in argv[:-1] or argv[argv.index("-m") + 1] not in _RUN_FUNCTIONS:
        return
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
    from tests.support.aws_calls import Recorder, install_everywhere

    install_everywhere(Recorder(sink))


_record()

"""The local stack's console logging (infra.local.quiet), in a process of its own as each of the stack's is: a
handler's warning is one readable line on standard error, never also Powertools' JSON on standard output; a
real error keeps its traceback; with metrics off, however many invocations add metrics, nothing is printed.
tests/e2e/test_quiet_console.py shows the same on a real stack."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    settings = {**os.environ, "POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "WARNING", **env}
    settings.pop("POWERTOOLS_DEV", None)
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=settings, capture_output=True, text=True, timeout=60, check=True
    )


def test_a_handlers_warning_is_one_line_and_an_error_keeps_its_traceback():
    done = run(
        "import logging\n"
        "from infra.local.quiet import console_logging\n"
        "console_logging()\n"
        "log = logging.getLogger('asyncinfer.tasks.sweeper')\n"
        "log.warning('task %s missed its deadline: %s', 'abc', 'start_timeout')\n"
        "log.info('not shown')\n"
        "try:\n"
        "    raise ValueError('boom')\n"
        "except ValueError:\n"
        "    log.exception('a real error')\n"
    )
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert lines[0] == "WARNING asyncinfer.tasks.sweeper task abc missed its deadline: start_timeout"
    assert lines[1] == "ERROR asyncinfer.tasks.sweeper a real error"
    assert lines[2] == "Traceback (most recent call last):" and lines[-1] == "ValueError: boom"
    assert sum("missed its deadline" in line for line in lines) == 1


def test_powertools_own_logger_is_one_line_too():
    done = run(
        "from infra.local.quiet import console_logging\n"
        "console_logging()\n"
        "from asyncinfer.observability import logger\n"
        "logger.warning('task dead-lettered', extra={'task_id': 'abc'})\n"
    )
    assert done.stdout == ""
    assert done.stderr.splitlines() == ["WARNING asyncinfer task dead-lettered (task_id=abc)"]


def test_with_metrics_off_no_invocation_prints_a_metrics_blob():
    # 150 invocations adding one value each: without forgetting them, the 100th printed the set (EMF JSON).
    done = run(
        "from aws_lambda_powertools.metrics import MetricUnit\n"
        "from infra.local.quiet import console_logging\n"
        "console_logging()\n"
        "from asyncinfer.observability import metrics\n"
        "from infra.local.functions import _running_as\n"
        "@metrics.log_metrics\n"
        "def handler(event, context):\n"
        "    metrics.add_metric(name='TasksSubmitted', unit=MetricUnit.Count, value=1)\n"
        "invoke = _running_as('api_async', handler)\n"
        "for _ in range(150):\n"
        "    invoke({}, None)\n"
    )
    assert done.stdout == "" and done.stderr == ""

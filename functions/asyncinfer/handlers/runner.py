"""The long-task runner: a Lambda durable function (aws-durable-execution-sdk-python). The worker starts
one execution per long task, named by the task id; this handler runs it as checkpointed steps
(asyncinfer.runner.long_task), and is invoked again, replaying, after every pause or interruption."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

from aws_durable_execution_sdk_python import DurableContext, StepContext, durable_execution
from aws_durable_execution_sdk_python.config import Duration, StepConfig
from aws_durable_execution_sdk_python.exceptions import InvocationError, StepError
from aws_durable_execution_sdk_python.retries import RetryDecision

from asyncinfer import wiring
from asyncinfer.config import RunnerSettings
from asyncinfer.observability import logger
from asyncinfer.runner.batch_jobs import BatchJobSteps
from asyncinfer.runner.long_task import LongTaskRunner
from asyncinfer.runner.steps import RetryStep, StepGaveUp

SETTINGS = RunnerSettings  # the infra tests check each deployed environment against it
T = TypeVar("T")
STEP_ATTEMPTS = 4


@wiring.cached
def runtime() -> LongTaskRunner:
    return wiring.runner(SETTINGS())


def _retry(error: Exception, attempt: int) -> RetryDecision:
    """Transient failures (RetryStep) are tried again after 2, 4, 8 s, without compute; nothing else is."""
    if attempt >= STEP_ATTEMPTS or not isinstance(error, RetryStep):
        return RetryDecision.no_retry()
    return RetryDecision.retry(Duration.from_seconds(2**attempt))


class DurableSteps:
    """The SDK's context as the runner's Steps."""

    def __init__(self, context: DurableContext) -> None:
        self._context = context
        self._config = StepConfig(retry_strategy=_retry)

    def step(self, name: str, body: Callable[[], T]) -> T:
        def run(_: StepContext) -> T:
            return body()

        try:
            return self._context.step(run, name=name, config=self._config)
        except StepError as exc:
            # The step's last error, as checkpointed: RetryStep's "[code] message".
            found = re.fullmatch(r"\[(\w+)\] (.*)", exc.message or "", re.DOTALL)
            code, message = found.groups() if found else ("step_failed", exc.message or "A step failed")
            raise StepGaveUp(code, message) from None

    def pause(self, name: str, seconds: int) -> None:
        self._context.wait(Duration.from_seconds(seconds), name=name)

    def remaining_ms(self) -> int:
        lambda_context = self._context.lambda_context
        return lambda_context.get_remaining_time_in_millis() if lambda_context is not None else 900_000


@wiring.cached
def batch_parts() -> BatchJobSteps:
    return wiring.batch_part_runner(SETTINGS())


@durable_execution
def lambda_handler(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    if "batch_part" in event:  # a part of a batch sent up as one provider batch job (start_part)
        return run_batch_part(event["batch_part"], context)
    tenant, task_id = event["tenant"], event["task_id"]
    logger.append_keys(correlation_id=task_id, tenant=tenant)
    try:
        outcome = runtime().run(tenant, task_id, DurableSteps(context))
    except InvocationError:
        raise
    except Exception as exc:
        # Outside any step (reading the stored request on replay, say): a throttled call must not end the
        # execution. This invocation fails and Lambda invokes again; finished steps replay.
        raise InvocationError(f"{type(exc).__name__}: {exc}") from exc
    logger.info("long task ended", extra={"outcome": outcome})
    return {"outcome": outcome}


def run_batch_part(part: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    logger.append_keys(correlation_id=part["batch_id"], tenant=part["tenant"])
    try:
        ended = batch_parts().run(part["tenant"], part["batch_id"], int(part["part"]), DurableSteps(context))
    except InvocationError:
        raise
    except Exception as exc:
        raise InvocationError(f"{type(exc).__name__}: {exc}") from exc
    logger.info("batch part ended", extra={"part": part["part"], "status": ended["status"]})
    return ended

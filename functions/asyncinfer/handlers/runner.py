"""The long-task runner: a Lambda durable function (aws-durable-execution-sdk-python). The worker starts
one execution per long task, named by the task id; this handler runs it as checkpointed steps
(asyncinfer.runner.long_task), and is invoked again, replaying, after every pause or interruption. Each
invocation is a span of the task's trace, its live steps spans under it."""

from __future__ import annotations

from asyncinfer.handlers.cold import cold_start

with cold_start():  # the imports: the function's cold start
    import re
    from collections.abc import Callable
    from typing import TYPE_CHECKING, Any, TypeVar

    from aws_durable_execution_sdk_python import DurableContext, StepContext, durable_execution
    from aws_durable_execution_sdk_python.config import Duration, StepConfig
    from aws_durable_execution_sdk_python.exceptions import InvocationError, StepError, SuspendExecution
    from aws_durable_execution_sdk_python.lambda_service import OperationStatus, OperationType
    from aws_durable_execution_sdk_python.retries import RetryDecision

    from asyncinfer import wiring
    from asyncinfer.config import RunnerSettings
    from asyncinfer.observability import logger, metrics, tracing
    from asyncinfer.runner.steps import RetryStep, StepGaveUp

if TYPE_CHECKING:
    from asyncinfer.runner.batch_jobs import BatchJobSteps
    from asyncinfer.runner.long_task import LongTaskRunner

SETTINGS = RunnerSettings  # the infra tests check each deployed environment against it
T = TypeVar("T")
STEP_ATTEMPTS = 4
_STEP_ENDED = {OperationStatus.SUCCEEDED, OperationStatus.FAILED}


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

    def __init__(self, context: DurableContext, traceparent: str | None = None) -> None:
        self._context = context
        self._config = StepConfig(retry_strategy=_retry)
        self._traceparent = traceparent  # the invocation's span: a live step's is under it

    def step(self, name: str, body: Callable[[], T]) -> T:
        def run(_: StepContext) -> T:  # only a live step runs: a replayed one is its checkpoint
            with tracing.span(f"step {name}", parent=self._traceparent):
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


def invocation(context: DurableContext) -> int | None:
    """This invocation's ordinal in its execution: 1 + the pauses and step retries before it (each ends an
    invocation). One that replaces an invocation that died midway shares that one's ordinal. Read from the
    SDK's execution state: None if it no longer shows it (an attribute is not worth an invocation)."""
    try:
        operations = list(context.state.operations.values())
    except AttributeError:
        return None
    before = 1
    for operation in operations:
        if operation.operation_type is OperationType.WAIT:
            before += operation.status is OperationStatus.SUCCEEDED
        elif operation.operation_type is OperationType.STEP and operation.step_details is not None:
            # Its attempts that ended (a retry, then the last: succeeded or failed); each retry is a suspension.
            ended = operation.step_details.attempt
            before += max(0, ended - (operation.status in _STEP_ENDED))
    return before


def task_traceparent(tenant: str, task_id: str) -> str | None:
    """The task's trace, from its record, for an execution whose payload does not carry it (started by a
    version before it did); without it (a read failing, a task purged) the run goes on, its spans a trace of
    their own."""
    try:
        task = runtime().worker.store.get(tenant, task_id)
    except Exception:
        logger.warning("could not read the task's traceparent", exc_info=True)
        return None
    return task.traceparent if task is not None else None


@durable_execution
def execution(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    if "batch_part" in event:  # a part of a batch sent up as one provider batch job (start_part)
        return run_batch_part(event["batch_part"], context)
    tenant, task_id = event["tenant"], event["task_id"]
    logger.append_keys(correlation_id=task_id, tenant=tenant)
    attributes = {tracing.TASK_ID: task_id, tracing.TENANT: tenant, tracing.INVOCATION: invocation(context)}
    paused: SuspendExecution | None = None
    parent = event.get("traceparent") or task_traceparent(tenant, task_id)  # (started before payloads had it)
    with tracing.span("runner invocation", parent=parent, attributes=attributes) as span:
        try:
            outcome = runtime().run(tenant, task_id, DurableSteps(context, tracing.traceparent(span)))
        except SuspendExecution as suspended:  # a pause or a retry's wait: the invocation ends well
            paused = suspended
        except InvocationError:
            raise
        except Exception as exc:
            # Outside any step (reading the stored request on replay, say): a throttled call must not end the
            # execution. This invocation fails and Lambda invokes again; finished steps replay.
            raise InvocationError(f"{type(exc).__name__}: {exc}") from exc
    if paused is not None:
        raise paused
    logger.info("long task ended", extra={"outcome": outcome})
    return {"outcome": outcome}


# Its spans exported and its metrics (a long task's Spend) published before Lambda freezes the instance.
lambda_handler = metrics.log_metrics(tracing.flushed(execution))


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

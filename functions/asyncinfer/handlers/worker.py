"""SQS consumer: runs the tasks of one batch side by side and reports partial batch failures."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from asyncinfer import wiring
from asyncinfer.config import WorkerSettings
from asyncinfer.handlers.event_source import partial_batch_entry_point
from asyncinfer.handlers.redelivery import back_off, send_again
from asyncinfer.observability import logger, metrics
from asyncinfer.queue.base import TaskMessage, parse_message
from asyncinfer.tasks.long_slots import WaitForSlot
from asyncinfer.tasks.outcomes import RetryLater
from asyncinfer.tasks.worker import Worker

SETTINGS = WorkerSettings  # the infra tests check each deployed environment against it


@wiring.cached
def runtime() -> tuple[Worker, ThreadPoolExecutor]:
    settings = SETTINGS()
    # Model calls block on I/O: one thread per task of the batch, so the batch costs one task's wall time.
    return wiring.worker(settings), ThreadPoolExecutor(max_workers=settings.concurrency)


def _process(worker: Worker, message: TaskMessage, context: LambdaContext) -> str:
    logger.thread_safe_append_keys(correlation_id=message.task_id, tenant=message.tenant)
    try:
        outcome = worker.process(message, remaining_ms=context.get_remaining_time_in_millis).value
        # Ids and outcomes only: prompts, outputs and credentials never go to the logs.
        logger.info("task processed", extra={"outcome": outcome})
        return outcome
    except RetryLater as exc:
        logger.info("task will be retried", extra={"reason": str(exc)})
        raise
    except WaitForSlot as wait:
        logger.info("long task waits for a slot", extra={"reason": str(wait), "delay_seconds": wait.delay_seconds})
        raise
    finally:
        logger.thread_safe_clear_keys()


async def record_handler(record: SQSRecord, lambda_context: LambdaContext) -> str:
    message = parse_message(record.body)
    if message is None:
        logger.error("dropping malformed message", extra={"message_id": record.message_id})
        metrics.add_metric(name="MalformedMessages", unit=MetricUnit.Count, value=1)
        return "malformed"
    worker, executor = runtime()
    try:
        outcome = await asyncio.get_running_loop().run_in_executor(executor, _process, worker, message, lambda_context)
    except RetryLater as retry:
        metrics.add_metric(name="TasksRetried", unit=MetricUnit.Count, value=1)
        await asyncio.to_thread(_back_off, record, retry.lease_left_ms)
        raise
    except WaitForSlot as wait:
        metrics.add_metric(name="TasksWaiting", unit=MetricUnit.Count, value=1)
        await asyncio.to_thread(_wait, record, wait.delay_seconds)
        return "waiting"
    metrics.add_metric(name=f"Tasks{outcome.capitalize()}", unit=MetricUnit.Count, value=1)
    return outcome


def _wait(record: SQSRecord, delay_seconds: int) -> None:
    """A long task over its tenant's cap comes back as a new message, and this one is done with. Should the
    send fail, this one fails instead: it comes back all the same, counting one receive."""
    try:
        send_again(record, delay_seconds)
    except Exception as exc:
        logger.warning("could not send the waiting task's message again", exc_info=True)
        back_off(record, base=delay_seconds, cap=delay_seconds, at_least=delay_seconds)
        raise RetryLater("its message could not be sent again") from exc


def _back_off(record: SQSRecord, lease_left_ms: int) -> None:
    """Hold the failed message back for a jittered, growing delay instead of the whole visibility timeout,
    and at least until a lease we could not release has run out."""
    settings = SETTINGS()
    at_least = -(-lease_left_ms // 1000) + 1 if lease_left_ms > 0 else 0
    back_off(record, base=settings.retry_base_seconds, cap=settings.retry_max_seconds, at_least=at_least)


lambda_handler = partial_batch_entry_point(record_handler)

"""SQS consumer: runs the event's tasks side by side, then more from the same queue as slots free while the
invocation has time (asyncinfer.handlers.instance), and reports the event's failed messages back."""

from __future__ import annotations

from asyncinfer.handlers.cold import cold_start

with cold_start():  # the imports: the function's cold start
    from collections.abc import Callable
    from concurrent.futures import ThreadPoolExecutor

    from aws_lambda_powertools.metrics import MetricUnit
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from asyncinfer import wiring
    from asyncinfer.config import WorkerSettings
    from asyncinfer.handlers.instance import Instance, SlotPolicy
    from asyncinfer.handlers.redelivery import lane_of
    from asyncinfer.observability import logger, metrics, tracing
    from asyncinfer.queue.base import TaskMessage
    from asyncinfer.queue.refill import Delivery
    from asyncinfer.tasks.lane_starts import flush_starts
    from asyncinfer.tasks.long_slots import WaitForSlot
    from asyncinfer.tasks.outcomes import RetryLater
    from asyncinfer.tasks.worker import Worker

SETTINGS = WorkerSettings  # the infra tests check each deployed environment against it


@wiring.cached
def runtime() -> tuple[Worker, ThreadPoolExecutor]:
    settings = SETTINGS()
    # Model calls block on I/O: one thread per slot, so an instance's tasks cost one task's wall time.
    return wiring.worker(settings), ThreadPoolExecutor(max_workers=settings.threads())


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


def _delivery(record: dict) -> Delivery:
    attributes = record.get("attributes") or {}
    return Delivery(
        message_id=record["messageId"],
        receipt_handle=record["receiptHandle"],
        body=record["body"],
        receives=int(attributes.get("ApproximateReceiveCount") or 1),
        group=attributes.get("MessageGroupId"),
    )


def _policy(settings: WorkerSettings, queue_arn: str, context: LambdaContext) -> SlotPolicy:
    at_start = context.get_remaining_time_in_millis()
    horizon = settings.refill_horizon_seconds
    drain = settings.deadline_margin_seconds if settings.drain_margin_seconds is None else settings.drain_margin_seconds
    memory_mb = int(getattr(context, "memory_limit_in_mb", 0) or 0)
    return SlotPolicy(
        slots=settings.slots_for(queue_arn),
        refill=settings.worker_refill,
        horizon_ms=at_start // 2 if horizon is None else int(horizon * 1000),
        drain_ms=int(drain * 1000),
        wait_seconds=settings.refill_wait_seconds,
        memory_limit_bytes=int(memory_mb * 1024 * 1024 * settings.refill_memory_share),
        retry_base_seconds=settings.retry_base_seconds,
        retry_max_seconds=settings.retry_max_seconds,
    )


def _time_to_plan(context: LambdaContext) -> Callable[[], int]:
    """The invocation's time left as the instance plans with it, or none once its runtime says it stops (the
    local stack's Ctrl-C sets `stopping`; Lambda has no such signal): it then receives nothing more and hands
    back what has not started. Its tasks keep the real clock for their leases."""
    stopping = getattr(context, "stopping", None)
    if stopping is None:
        return context.get_remaining_time_in_millis
    return lambda: 0 if stopping.is_set() else context.get_remaining_time_in_millis()


@logger.inject_lambda_context
@metrics.log_metrics
@tracing.flushed
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    try:
        records = [_delivery(record) for record in event.get("Records") or []]
        if not records:
            return {"batchItemFailures": []}
        settings = SETTINGS()
        worker, pool = runtime()
        queue_arn = event["Records"][0]["eventSourceARN"]  # one event source mapping: one queue
        lane = lane_of(queue_arn)
        instance = Instance(
            lambda message: _process(worker, message, context),
            lane,
            _policy(settings, queue_arn, context),
            _time_to_plan(context),
            pool,
        )
        failed = instance.serve(records)
        for name, count in instance.counts.items():
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=count)
        if instance.received:
            metrics.add_metric(name="MessagesReceived", unit=MetricUnit.Count, value=instance.received)
        return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}
    finally:
        _invocation_ended()


def _invocation_ended() -> None:
    """Once at the end of every invocation, whatever happened in it: where what it buffered is flushed."""
    flush_starts()

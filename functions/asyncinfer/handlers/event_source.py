"""The entry point of a function fed by an event source mapping (SQS, a DynamoDB stream): each record
through `record_handler`, failed ones reported back for retry (partial batch responses)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from asyncinfer.observability import logger, metrics, tracing

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

# Powertools' batch utility (~80 ms of imports: every event source's parser models) is imported by the first
# event, so a function's import is only its entry point. Event types are named by EventType's values.
SQS = "SQS"
DYNAMODB_STREAMS = "DynamoDBStreams"


def process(event: dict, context: LambdaContext, record_handler: Callable, event_type: str) -> dict:
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    return process_partial_response(
        event=event,
        record_handler=record_handler,
        # All records failing is reported like any failure, not raised: the same retry, no Lambda error.
        processor=BatchProcessor(event_type=EventType(event_type), raise_on_entire_batch_failure=False),
        context=context,
    )


def partial_batch_entry_point(
    record_handler: Callable[[Any], Any], event_type: str = SQS
) -> Callable[[dict, LambdaContext], dict]:
    """The entry point of a sync record handler, or of an async one, whose records then run side by side."""

    @logger.inject_lambda_context
    @metrics.log_metrics
    @tracing.flushed
    def lambda_handler(event: dict, context: LambdaContext) -> dict:
        if not inspect.iscoroutinefunction(record_handler):
            return process(event, context, record_handler, event_type)
        from aws_lambda_powertools.utilities.batch import (
            AsyncBatchProcessor,
            EventType,
            async_process_partial_response,
        )

        return async_process_partial_response(
            event=event,
            record_handler=record_handler,
            processor=AsyncBatchProcessor(event_type=EventType(event_type), raise_on_entire_batch_failure=False),
            context=context,
        )

    return lambda_handler

"""Lambda durable functions as the long-task runner.

Started by an asynchronous Invoke of the runner's qualified ARN with `DurableExecutionName` = the task id:
the name is the idempotency key, so a start repeated with the same name and payload returns the existing
execution (https://docs.aws.amazon.com/lambda/latest/dg/durable-execution-idempotency.html). The runner is
never behind an event source mapping, whose durable executions are capped at 15 minutes and start again on
every retry (https://docs.aws.amazon.com/lambda/latest/dg/durable-invoking-esm.html)."""

from __future__ import annotations

import json
import logging
from typing import Any

from botocore.exceptions import ClientError

log = logging.getLogger(__name__)


def payload(tenant: str, task_id: str, traceparent: str | None = None) -> bytes:
    """The same bytes for every start of a task (its traceparent is its record's): a repeated start is a
    replay, not a conflict."""
    event = {"tenant": tenant, "task_id": task_id}
    if traceparent:
        event["traceparent"] = traceparent
    return json.dumps(event, separators=(",", ":"), sort_keys=True).encode()


class LambdaDurableExecutions:
    def __init__(self, client: Any, function_arn: str) -> None:
        self._client = client  # boto3 "lambda"
        self._function = function_arn  # qualified: a version or an alias

    def start(self, tenant: str, task_id: str, traceparent: str | None = None) -> str:
        try:
            answer = self._client.invoke(
                FunctionName=self._function,
                InvocationType="Event",
                DurableExecutionName=task_id,
                Payload=payload(tenant, task_id, traceparent),
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "DurableExecutionAlreadyStartedException":
                raise
            # Same name, other payload: impossible with payload() above, unless the task was started
            # by another deployment of the runner. Its execution is the one to follow.
            return self._by_name(task_id) or ""
        return answer.get("DurableExecutionArn") or self._by_name(task_id) or ""

    def start_named(self, name: str, event: dict[str, Any]) -> str:
        body = json.dumps(event, separators=(",", ":"), sort_keys=True).encode()
        try:
            answer = self._client.invoke(
                FunctionName=self._function, InvocationType="Event", DurableExecutionName=name, Payload=body
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "DurableExecutionAlreadyStartedException":
                raise
            return self._by_name(name) or ""
        return answer.get("DurableExecutionArn") or self._by_name(name) or ""

    def _by_name(self, name: str) -> str | None:
        """The execution named `name`, whichever version runs it. Without a qualifier the listing covers every
        version of the function (botocore 1.44's model of ListDurableExecutionsByFunction; older references said
        $LATEST only), so the qualifier the runner is started on is asked next. The name filter may match
        more than the name (older references: "contain"): only the exact name counts."""
        function, _, qualifier = unqualified(self._function)
        for scope in [{}, {"Qualifier": qualifier}] if qualifier else [{}]:
            if found := self._listed(name, FunctionName=function, DurableExecutionName=name, **scope):
                return found
        return None

    def _listed(self, name: str, **params: str) -> str | None:
        while True:
            page = self._client.list_durable_executions_by_function(**params)
            for execution in page.get("DurableExecutions", []):
                if execution.get("DurableExecutionName") == name:
                    return execution["DurableExecutionArn"]
            if not page.get("NextMarker"):
                return None
            params["Marker"] = page["NextMarker"]

    def stop(self, execution_arn: str) -> None:
        try:
            self._client.stop_durable_execution(
                DurableExecutionArn=execution_arn,
                Error={"ErrorType": "TaskCancelled", "ErrorMessage": "The task was cancelled"},
            )
        except ClientError as exc:
            # Already ended, or gone with its retention: nothing left to stop.
            log.info("stop of %s answered %s", execution_arn, exc.response.get("Error", {}).get("Code"))

    def status(self, execution_arn: str) -> str | None:
        try:
            return self._client.get_durable_execution(DurableExecutionArn=execution_arn).get("Status")
        except ClientError:
            return None


def unqualified(function_arn: str) -> tuple[str, str, str]:
    """(function ARN, ":", qualifier) of arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]."""
    parts = function_arn.split(":")
    if len(parts) == 8:
        return ":".join(parts[:7]), ":", parts[7]
    return function_arn, "", ""

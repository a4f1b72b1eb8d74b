"""The batch function starts a part's runner execution (asyncinfer.tasks.provider_parts.start_part) and the runner
queues a part's unanswered items on demand: with a model with batch jobs in the registry (the shipped demo models
count), the batch function may invoke the runner's alias and find an execution by name, and knows the runner's ARN;
the runner may send to the batch-items queue only, and knows its URL."""

import json

import pytest

from asyncinfer.routes import HANDLERS
from tests.infra.helpers import as_list, functions_by_handler, policy_statements_of

pytestmark = pytest.mark.infra


def test_the_batch_function_starts_runner_executions_on_the_alias(resources):
    batch_id, batch = functions_by_handler(resources)[HANDLERS["batch"]]
    statements = policy_statements_of(resources, batch_id)
    (invoke,) = [s for s in statements if "lambda:InvokeFunction" in as_list(s["Action"])]
    assert "RunnerLive" in json.dumps(invoke["Resource"]), "the alias the runner is started on"
    assert any("lambda:ListDurableExecutionsByFunction" in as_list(s["Action"]) for s in statements)
    assert "ASYNCINFER_RUNNER_FUNCTION_ARN" in batch["Environment"]["Variables"]


def test_the_runner_sends_handed_back_items_to_the_batch_items_queue_only(resources):
    runner_id, runner = functions_by_handler(resources)[HANDLERS["runner"]]
    sends = [s for s in policy_statements_of(resources, runner_id) if "sqs:SendMessage" in as_list(s["Action"])]
    assert len(sends) == 1 and "BatchItems" in json.dumps(sends[0]["Resource"]), sends
    assert "ASYNCINFER_BATCH_ITEMS_QUEUE_URL" in runner["Environment"]["Variables"]

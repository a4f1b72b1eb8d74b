"""The batch function starts a part's runner execution (asyncinfer.tasks.provider_parts.start_part) and the runner
queues a part's unanswered items on demand: with a model with batch jobs in the registry (the shipped demo models
count), the batch function may invoke the runner's alias and find an execution by name, and knows the runner's ARN;
the runner may send to the batch-items queue, and for `complete_by` to the default and priority lanes and the
webhook queue, and knows their URLs and the lanes' capacity."""

import json

import pytest

from asyncinfer.routes import HANDLERS
from tests.infra.helpers import CONFIG, as_list, functions_by_handler, policy_statements_of, queue_id

pytestmark = pytest.mark.infra


def test_the_batch_function_starts_runner_executions_on_the_alias(resources):
    batch_id, batch = functions_by_handler(resources)[HANDLERS["batch"]]
    statements = policy_statements_of(resources, batch_id)
    (invoke,) = [s for s in statements if "lambda:InvokeFunction" in as_list(s["Action"])]
    assert "RunnerLive" in json.dumps(invoke["Resource"]), "the alias the runner is started on"
    assert any("lambda:ListDurableExecutionsByFunction" in as_list(s["Action"]) for s in statements)
    assert "ASYNCINFER_RUNNER_FUNCTION_ARN" in batch["Environment"]["Variables"]


def test_the_runner_sends_to_the_batch_items_the_default_and_priority_lanes_and_the_webhook_queue_only(resources):
    """Handed-back items go to the batch-items lane; a complete_by part's escalated items to the default or priority
    class's lane, its batch.escalated to the webhook queue. Never the flex lane, the batch queue, a dead-letter one."""
    runner_id, runner = functions_by_handler(resources)[HANDLERS["runner"]]
    sends = [s for s in policy_statements_of(resources, runner_id) if "sqs:SendMessage" in as_list(s["Action"])]
    targets = {ref["Fn::GetAtt"][0] for s in sends for ref in as_list(s["Resource"])}
    ids = {name: queue_id(resources, name) for name in ("BatchItems", "Tasks", "PriorityTasks", "Webhooks")}
    assert targets == set(ids.values()), (targets, ids)
    env = runner["Environment"]["Variables"]
    for name, queue in {
        "ASYNCINFER_BATCH_ITEMS_QUEUE_URL": "BatchItems",
        "ASYNCINFER_QUEUE_URL": "Tasks",
        "ASYNCINFER_PRIORITY_QUEUE_URL": "PriorityTasks",
        "ASYNCINFER_WEBHOOK_QUEUE_URL": "Webhooks",
    }.items():
        assert env[name] == {"Ref": ids[queue]}, (name, env.get(name))
    assert "ASYNCINFER_FLEX_QUEUE_URL" not in env


def test_the_runner_knows_each_lanes_capacity_from_its_workers(resources):
    """complete_by's estimates: a lane's maximum concurrency times the tasks each worker instance runs at once."""
    env = functions_by_handler(resources)[HANDLERS["runner"]][1]["Environment"]["Variables"]
    c = CONFIG
    assert env["ASYNCINFER_DEFAULT_LANE_SLOTS"] == str(c.worker_max_concurrency * c.worker_slots)
    assert env["ASYNCINFER_PRIORITY_LANE_SLOTS"] == str(c.priority_worker_max_concurrency * c.priority_worker_slots)
    assert env["ASYNCINFER_FLEX_LANE_SLOTS"] == str(c.flex_worker_max_concurrency * c.flex_worker_slots)
    assert env["ASYNCINFER_RETENTION_DAYS"] == str(CONFIG.retention_days)

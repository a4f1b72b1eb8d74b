"""A `complete_by` batch's items start in flex and may move to the default or priority class
(asyncinfer.tasks.flex_escalation): the batch function knows each class's queue, may send to it and to the
batch-items lane, and is told the lanes' capacity and the sweeper's period its estimates take."""

import json

import pytest

from asyncinfer.routes import HANDLERS
from tests.infra.helpers import as_list, functions_by_handler, policy_statements_of, queue_id

pytestmark = pytest.mark.infra


def test_the_batch_function_knows_every_class_s_queue_and_the_lanes_capacity(resources):
    _, batch = functions_by_handler(resources)[HANDLERS["batch"]]
    env = batch["Environment"]["Variables"]
    for name, queue in {
        "ASYNCINFER_QUEUE_URL": "Tasks",
        "ASYNCINFER_PRIORITY_QUEUE_URL": "PriorityTasks",
        "ASYNCINFER_FLEX_QUEUE_URL": "FlexTasks",
        "ASYNCINFER_BATCH_ITEMS_QUEUE_URL": "BatchItems",
    }.items():
        assert queue_id(resources, queue) in json.dumps(env[name]), name
    # cdk.json: 20 default workers, 10 priority, 5 flex, each running 32 tasks at once (its slots).
    assert env["ASYNCINFER_DEFAULT_LANE_SLOTS"] == "640"
    assert env["ASYNCINFER_PRIORITY_LANE_SLOTS"] == "320"
    assert env["ASYNCINFER_FLEX_LANE_SLOTS"] == "160"
    assert env["ASYNCINFER_ESCALATION_SWEEP_SECONDS"] == "60"  # the sweeper's deadline rule: every minute


def test_the_batch_function_may_send_to_every_class_s_queue_and_the_batch_items_lane(resources):
    batch_id, _ = functions_by_handler(resources)[HANDLERS["batch"]]
    sends = [s for s in policy_statements_of(resources, batch_id) if "sqs:SendMessage" in as_list(s["Action"])]
    granted = json.dumps([s["Resource"] for s in sends])
    for queue in ("Tasks", "PriorityTasks", "FlexTasks", "BatchItems"):
        assert queue_id(resources, queue) in granted, queue

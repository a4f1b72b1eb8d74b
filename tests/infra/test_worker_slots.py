"""Each lane's worker slots reach the worker: one number for the default class's queue, and one per other
lane keyed by its queue's ARN (as the event names it), so a lane runs at most its concurrency times its slots."""

import json

import pytest

from asyncinfer.routes import HANDLERS
from tests.infra.conftest import synthesize
from tests.infra.helpers import CONFIG, functions_by_handler, queue_id

pytestmark = pytest.mark.infra


def _slots_by_queue(env: dict, resources: dict) -> dict[str, int]:
    """The map's keys are joined tokens ({"Fn::GetAtt": [queue, "Arn"]}): read each as its queue's logical id."""
    join = env["ASYNCINFER_WORKER_QUEUE_SLOTS"]["Fn::Join"]
    text = "".join(part if isinstance(part, str) else part["Fn::GetAtt"][0] for part in join[1])
    return json.loads(text)


def test_the_worker_runs_each_lane_with_its_slots(resources):
    env = functions_by_handler(resources)[HANDLERS["worker"]][1]["Environment"]["Variables"]
    assert env["ASYNCINFER_WORKER_SLOTS"] == str(CONFIG.worker_slots) == "32"
    assert "ASYNCINFER_CONCURRENCY" not in env  # its threads follow its slots
    assert _slots_by_queue(env, resources) == {
        queue_id(resources, "PriorityTasks"): CONFIG.priority_worker_slots,
        queue_id(resources, "FlexTasks"): CONFIG.flex_worker_slots,
        queue_id(resources, "BatchItems"): CONFIG.batch_worker_slots,
    }


def test_a_lane_s_slots_are_configurable_and_its_capacity_follows():
    _, template = synthesize(flex_worker_slots=4, batch_worker_slots=2, worker_slots=16)
    resources = template.to_json()["Resources"]
    by_handler = functions_by_handler(resources)
    env = by_handler[HANDLERS["worker"]][1]["Environment"]["Variables"]
    assert env["ASYNCINFER_WORKER_SLOTS"] == "16"
    slots = _slots_by_queue(env, resources)
    assert slots[queue_id(resources, "FlexTasks")] == 4 and slots[queue_id(resources, "BatchItems")] == 2
    runner = by_handler[HANDLERS["runner"]][1]["Environment"]["Variables"]
    assert runner["ASYNCINFER_DEFAULT_LANE_SLOTS"] == str(CONFIG.worker_max_concurrency * 16)
    assert runner["ASYNCINFER_FLEX_LANE_SLOTS"] == str(CONFIG.flex_worker_max_concurrency * 4)


def test_no_lane_may_have_more_slots_than_the_clients_have_connections():
    from asyncinfer.wiring import CONFIG as CLIENTS
    from infra.config import MOST_SLOTS, InfraConfig

    assert CLIENTS.max_pool_connections >= MOST_SLOTS  # every slot can hold a connection of each client
    with pytest.raises(ValueError, match="less than or equal to 64"):
        InfraConfig(worker_slots=MOST_SLOTS + 1)

"""One tenant's 1,000-item batch does not stand in front of another tenant: batch items have a queue and a
worker concurrency of their own. Shown two ways while the batch runs: how many batch items start between the
other tenant's submit and its start (its place in line: exact, whatever the machine's load), and its start
delay against its idle one."""

import statistics

import pytest

from asyncinfer.domain.ids import parse_any
from asyncinfer.domain.model import Task
from asyncinfer.store.dynamodb import DynamoTaskStore
from tests.e2e.conftest import TABLE, start_stack, stop_stack, wait_for

pytestmark = pytest.mark.e2e
SAMPLES = 9
# On AWS each function runs in instances of its own. Here every function shares one process and its GIL
# (and the emulator's one DynamoDB lock), so the batch's own work (ten items at a time, their event
# flushes, the notifier counting their endings) delays the other tenant's start by up to ~0.2 s of CPU
# that separate instances would not. The time bound allows that beside twice the idle delay; the place in
# line, which is what the separate queue changes, is asserted exactly. (With one shared queue, the other
# tenant waited behind the whole batch: a minute and more.)
SHARED_PROCESS_MS = 250
# Items the batch's worker instance (one locally) may start meanwhile: the batch it is on, and the next.
MAX_ITEMS_AHEAD = 20


@pytest.fixture(scope="module")
def stack():
    running = start_stack(ASYNCINFER_DEMO_CHAT_SECONDS="1", ASYNCINFER_FLUSH_SECONDS="0.5")
    yield running
    stop_stack(running)


def started_tasks(client, store, tenant: str) -> list[Task]:
    """SAMPLES tasks submitted one after another, each as it started (each waited for to its end, so that
    the tenant's own tasks never queue behind each other)."""
    tasks = []
    for i in range(SAMPLES):
        body = {"model": "demo-chat", "messages": [{"role": "user", "content": f"interactive {i}"}]}
        created = client.post("/v1/async", json=body)
        assert created.status_code == 200, created.text
        task_id = parse_any(created.json()["id"])

        def started(task_id: str = task_id):
            task = store.get(tenant, task_id)
            return task if task and task.started_at else None

        tasks.append(wait_for(started, what="a start"))
        wait_for(lambda task_id=task_id: store.get(tenant, task_id).terminal, what="the end")
    return tasks


def delay(task: Task) -> float:
    return (task.started_at - task.created_at) / 1000


@pytest.mark.timeout(420)  # its own waits allow the batch 180 s to be queued and 120 s to get under way
def test_another_tenants_tasks_start_within_twice_their_idle_delay_behind_a_1000_item_batch(stack):
    store = DynamoTaskStore(stack.aws("dynamodb"), TABLE)
    other = stack.new_key("team-b")
    with stack.client(other) as client, stack.client() as batcher:
        idle = statistics.median(delay(t) for t in started_tasks(client, store, "team-b"))
        requests = [
            {"custom_id": f"r{i}", "body": {"model": "demo-chat", "messages": [{"role": "user", "content": str(i)}]}}
            for i in range(1000)
        ]
        batch = batcher.post("/v1/batches", json={"requests": requests}, timeout=120)
        assert batch.status_code == 200, batch.text

        def counts():
            return batcher.get(f"/v1/batches/{batch.json()['id']}").json()["request_counts"]

        sqs = stack.aws("sqs")
        items_queue = sqs.get_queue_url(QueueName="asyncinfer-dev-batch-items")["QueueUrl"]

        def queued() -> int:
            # Delayed too: an item held back by its lane's cap waits in the queue, delayed, as on SQS.
            names = [
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ]
            attributes = sqs.get_queue_attributes(QueueUrl=items_queue, AttributeNames=names)["Attributes"]
            return sum(int(attributes[name]) for name in names)

        # The whole batch made and queued, and its items running: the other tenant's tasks come after it.
        wait_for(lambda: queued() + counts()["completed"] >= 1000, timeout=180, what="the batch queued")
        wait_for(lambda: counts()["completed"] > 0, timeout=120, what="the batch under way")
        behind = started_tasks(client, store, "team-b")
        during = counts()
    page = store.list("dev", limit=100, after=None, status=None)
    items = []
    while True:
        items += [t for t in page.tasks if t.batch_id and t.started_at]
        if page.next_cursor is None:
            break
        page = store.list("dev", limit=100, after=page.next_cursor, status=None)
    ahead = [sum(t.created_at < i.started_at < t.started_at for i in items) for t in behind]
    loaded = statistics.median(delay(t) for t in behind)
    print(
        f"start delay: idle {idle * 1000:.0f} ms, behind the batch {loaded * 1000:.0f} ms (medians of {SAMPLES}); "
        f"batch items started before each: {ahead}"
    )
    assert during["pending"] > 0, "the batch was still running while the other tenant's tasks were measured"
    assert max(ahead) <= MAX_ITEMS_AHEAD, f"batch items started ahead of the other tenant's tasks: {ahead}"
    assert loaded <= 2 * idle + SHARED_PROCESS_MS / 1000, f"idle {idle:.3f} s, behind a 1,000-item batch {loaded:.3f} s"
    assert during["completed"] > 0  # the batch made progress meanwhile

"""A chat task that outgrows the worker's invocation moves to the long-task runner (asyncinfer.tasks.handover),
against the emulator: the worker handler under a 10.5 s invocation (its deadline margin is 10 s, so a turn
has half a second there), the runner's real handler under the testing SDK's local durable service."""

from __future__ import annotations

from decimal import Decimal

import pytest
from botocore.exceptions import ClientError

from asyncinfer.domain.model import TaskStatus
from asyncinfer.executions.lambda_durable import LambdaDurableExecutions
from asyncinfer.store.dynamodb_slots import SLOTS_PK_PREFIX, SLOTS_SK
from asyncinfer.tasks import worker as worker_module
from asyncinfer.tasks.handover import HANDED_OVER
from infra.local.functions import LocalFunctions
from infra.local.poller import Poller
from tests.e2e.conftest import wait_for
from tests.support.durable import RUNNER_ARN, DurableRuntime
from tests.support.models_file import serve_models

pytestmark = pytest.mark.integration

REGISTRY = {
    "version": 1,
    "models": {
        # A plain chat model: it runs on the worker (no "runs": "durable").
        "metered-chat": {
            "provider": "local",
            "upstream": "demo-chat",
            "kind": "chat",
            "prices": {"input_per_million": 3.0, "output_per_million": 15.0},
        },
        # A long task, holding a long-task slot while it runs.
        "slow-research": {
            "provider": "local",
            "upstream": "demo-deep-research",
            "kind": "chat",
            "runs": "durable",
            "tools": "demo-research",
        },
    },
}
PROMPT = "Explain why the sky is blue, at length."


@pytest.fixture
def handover(aws, tmp_path, monkeypatch):
    serve_models(REGISTRY, tmp_path, monkeypatch)
    monkeypatch.setenv("ASYNCINFER_RUNNER_FUNCTION_ARN", RUNNER_ARN)
    monkeypatch.setenv("ASYNCINFER_DEMO_CHAT_SECONDS", "2")
    # The worker's invocations end 10.5 s after they start; the runner's after 30 s.
    monkeypatch.setattr(aws, "functions", LocalFunctions(timeouts={"worker": 10.5}))
    with DurableRuntime(lambda event: aws.functions.invoke("runner", event)) as durable:
        yield aws, durable


def submit(aws, **more) -> str:
    body = {"model": "metered-chat", "messages": [{"role": "user", "content": PROMPT}], **more}
    status, task = aws.api("POST", "/v1/async", body=body)
    assert status == 200, task
    return task["id"]


def internal(public_id: str) -> str:
    return public_id.removeprefix("task_").replace("-", "")


def executions_of(durable, public_id: str) -> list[dict]:
    return durable.client().list_durable_executions_by_function(
        FunctionName="asyncinfer-runner", DurableExecutionName=internal(public_id)
    )["DurableExecutions"]


def ended(aws, durable, public_id: str) -> dict:
    durable.wait(wait_for(lambda: aws.store.get("acme", internal(public_id)).execution_arn, what="its execution"))
    return aws.api("GET", f"/v1/async/{public_id}")[1]


def kinds(aws, public_id: str) -> list[str]:
    return [e["type"] for e in aws.store.read_events("acme", internal(public_id))]


def usage(aws) -> dict:
    status, body = aws.api("GET", "/v1/usage")
    assert status == 200, body
    return body


def test_a_turn_that_outgrows_the_worker_completes_on_the_runner_charged_once(handover):
    aws, durable = handover
    public_id = submit(aws)
    aws.run_worker()
    done = ended(aws, durable, public_id)
    assert done["status"] == "COMPLETED", done
    assert len(executions_of(durable, public_id)) == 1
    events = aws.store.read_events("acme", internal(public_id))
    at = [e["type"] for e in events].index("restart")
    assert events[at] == {"seq": at + 1, "type": "restart", "attempt": 2, "reason": HANDED_OVER}
    assert "delta" in [e["type"] for e in events[:at]], "the worker's partial turn came first"
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    content = done["choices"][0]["message"]["content"]
    assert "".join(e["text"] for e in events[at + 1 :] if e["type"] == "delta") == content
    # Charged the runner's answer only: the same as the same request run whole, the partial turn not at all.
    assert done["usage"]["completion_tokens"] == len(content.split(" "))
    report = usage(aws)
    assert report["budgets"]["daily"]["reserved"] == 0
    assert Decimal(str(report["total"]["cost"])) == Decimal(str(done["usage"]["cost"]["total_cost"])) > 0


def test_a_task_cancelled_as_its_turn_runs_out_is_not_handed_over(handover, monkeypatch):
    aws, durable = handover
    public_id = submit(aws)
    real = worker_module.hand_over

    def cancelled_first(store, executions, slots, task, seq):
        assert aws.api("POST", f"/v1/async/{public_id}/cancel")[0] == 200
        return real(store, executions, slots, task, seq)

    monkeypatch.setattr(worker_module, "hand_over", cancelled_first)
    aws.run_worker()
    task = aws.store.get("acme", internal(public_id))
    assert task.status == TaskStatus.CANCELLED and task.execution_arn is None
    assert executions_of(durable, public_id) == []
    assert "restart" not in kinds(aws, public_id)


def test_a_task_cancelled_between_the_handover_and_the_start_stops_its_execution(handover, monkeypatch):
    aws, durable = handover
    public_id = submit(aws)
    real_start, stopped = LambdaDurableExecutions.start, []

    def start(self, tenant, task_id, traceparent=None):
        assert aws.api("POST", f"/v1/async/{public_id}/cancel")[0] == 200
        return real_start(self, tenant, task_id)

    monkeypatch.setattr(LambdaDurableExecutions, "start", start)
    monkeypatch.setattr(LambdaDurableExecutions, "stop", lambda self, arn: stopped.append(arn))
    aws.run_worker()
    [execution] = executions_of(durable, public_id)
    durable.wait(execution["DurableExecutionArn"])
    assert stopped == [execution["DurableExecutionArn"]], "the worker stops what it started for a cancelled task"
    done = aws.api("GET", f"/v1/async/{public_id}")[1]
    assert done["status"] == "CANCELLED"
    assert kinds(aws, public_id)[-1] == "restart", "the runner wrote nothing: it found the task cancelled"
    # Cancelled after the handover cleared what the partial turn produced: nothing charged, nothing held.
    report = usage(aws)
    assert Decimal(str(report["total"]["cost"])) == 0 and report["budgets"]["daily"]["reserved"] == 0


def test_a_task_whose_own_deadline_passes_in_the_worker_fails_there_and_is_not_handed_over(handover, monkeypatch):
    aws, durable = handover
    monkeypatch.setattr(aws, "functions", LocalFunctions(timeouts={"worker": 30}))  # its deadline comes first
    public_id = submit(aws, execution_timeout=0.3)
    aws.run_worker()
    done = aws.api("GET", f"/v1/async/{public_id}")[1]
    assert (done["status"], done["error"]["code"]) == ("FAILED", "deadline_exceeded"), done
    assert executions_of(durable, public_id) == []


def test_a_handed_over_task_whose_deadline_passes_on_the_runner_fails_there(handover):
    aws, durable = handover
    public_id = submit(aws, execution_timeout=1.5)  # past the worker's half second, short of the 2 s turn
    aws.run_worker()
    done = ended(aws, durable, public_id)
    assert (done["status"], done["error"]["code"]) == ("FAILED", "deadline_exceeded"), done
    assert "restart" in kinds(aws, public_id)


def failing_starts(monkeypatch, failures: int) -> list[str]:
    """The runner's start refused (throttled) `failures` times, then real; the starts tried."""
    real_start, starts = LambdaDurableExecutions.start, []

    def start(self, tenant, task_id, traceparent=None):
        starts.append(task_id)
        if len(starts) <= failures:
            raise ClientError({"Error": {"Code": "TooManyRequestsException", "Message": "slow down"}}, "Invoke")
        return real_start(self, tenant, task_id)

    monkeypatch.setattr(LambdaDurableExecutions, "start", start)
    monkeypatch.setenv("ASYNCINFER_RETRY_BASE_SECONDS", "1")
    monkeypatch.setenv("ASYNCINFER_RETRY_MAX_SECONDS", "1")
    return starts


def handovers(aws, public_id: str) -> int:
    return sum(e.get("reason") == HANDED_OVER for e in aws.store.read_events("acme", internal(public_id)))


def test_a_failed_start_is_tried_again_without_running_the_turn_again(handover, monkeypatch):
    aws, durable = handover
    starts = failing_starts(monkeypatch, failures=1)
    public_id = submit(aws)
    aws.run_worker()
    first = aws.store.get("acme", internal(public_id))
    assert (first.status, first.execution_arn, first.attempt) == (TaskStatus.IN_PROGRESS, None, 1)
    assert first.handed_over_at is not None
    # The message comes back after its backoff: the worker starts the runner again, and runs no turn.
    wait_for(lambda: aws.run_worker(), timeout=30, interval=0.2, what="the message's return")
    done = ended(aws, durable, public_id)
    assert done["status"] == "COMPLETED", done
    assert len(starts) == 2 and len(executions_of(durable, public_id)) == 1
    assert handovers(aws, public_id) == 1
    events = aws.store.read_events("acme", internal(public_id))
    at = [e["type"] for e in events].index("restart")
    content = done["choices"][0]["message"]["content"]
    assert "".join(e["text"] for e in events[at + 1 :] if e["type"] == "delta") == content
    assert done["usage"]["completion_tokens"] == len(content.split(" "))


def test_a_runner_that_cannot_be_started_ends_the_task_after_its_receives_not_in_a_loop(handover, monkeypatch):
    aws, durable = handover
    starts = failing_starts(monkeypatch, failures=1000)
    public_id = submit(aws)

    def dead_lettered():
        aws.run_worker()
        return aws.queue_depth(aws.resources.dlq_url)

    wait_for(dead_lettered, timeout=60, interval=0.2, what="the message in the dead-letter queue")
    assert len(starts) == 3, "one start per receive of its message (3)"
    assert handovers(aws, public_id) == 1, "its turn ran once on the worker"
    Poller(aws.sqs, aws.resources.dlq_url, aws.resources.dlq_arn, aws.functions, "dead_letter").poll_once()
    done = aws.api("GET", f"/v1/async/{public_id}")[1]
    assert (done["status"], done["error"]["code"]) == ("FAILED", "dead_lettered"), done
    assert executions_of(durable, public_id) == []
    assert aws.queue_depth() == 0


def test_a_duplicate_message_after_the_handover_starts_nothing_new(handover):
    aws, durable = handover
    public_id = submit(aws)
    message = aws.sqs.receive_message(QueueUrl=aws.resources.queue_url)["Messages"][0]
    aws.sqs.change_message_visibility(
        QueueUrl=aws.resources.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
    )
    aws.run_worker()
    aws.sqs.send_message(QueueUrl=aws.resources.queue_url, MessageBody=message["Body"])  # it comes again
    aws.run_worker()
    done = ended(aws, durable, public_id)
    assert done["status"] == "COMPLETED", done
    assert len(executions_of(durable, public_id)) == 1
    assert kinds(aws, public_id).count("restart") == 1


def holders(aws) -> set[str]:
    key = {"pk": {"S": SLOTS_PK_PREFIX + "acme"}, "sk": {"S": SLOTS_SK}}
    item = aws.ddb.get_item(TableName=aws.resources.table_name, Key=key, ConsistentRead=True).get("Item", {})
    return set(item.get("holders", {}).get("SS", []))


def test_a_handover_waits_for_a_slot_when_the_long_task_cap_is_full_and_runs_its_turn_once(handover, monkeypatch):
    aws, durable = handover
    monkeypatch.setenv("ASYNCINFER_MAX_LONG_TASKS_PER_TENANT", "1")
    monkeypatch.setenv("ASYNCINFER_LONG_TASK_WAIT_SECONDS", "1")
    monkeypatch.setenv("ASYNCINFER_DEMO_RESEARCH_TOOL_SECONDS", "0.2")
    body = {"model": "slow-research", "messages": [{"role": "user", "content": "Research"}]}
    status, research = aws.api("POST", "/v1/async", body={**body, "demo_research": {"steps": 40, "step_seconds": 0.2}})
    assert status == 200, research
    aws.run_worker()
    assert holders(aws) == {internal(research["id"])}
    chat = submit(aws)
    aws.run_worker()  # its turn outgrows the worker; the cap is full: it waits, its message sent again
    waiting = aws.store.get("acme", internal(chat))
    assert (waiting.status, waiting.execution_arn) == (TaskStatus.IN_PROGRESS, None)
    assert waiting.handed_over_at is not None and executions_of(durable, chat) == []
    assert holders(aws) == {internal(research["id"])}, "the cap holds for a handed-over task"
    # While the research runs, the chat's message keeps coming back and keeps waiting.
    wait_for(lambda: aws.run_worker() > 0, timeout=10, interval=0.2, what="the chat's message, back after its wait")
    assert executions_of(durable, chat) == [] and handovers(aws, chat) == 1
    assert not aws.store.get("acme", internal(research["id"])).terminal
    assert aws.api("POST", f"/v1/async/{research['id']}/cancel")[0] == 200

    def started() -> bool:
        aws.run_worker()
        return bool(executions_of(durable, chat))

    wait_for(started, timeout=30, interval=0.2, what="the chat's start once the slot freed")
    assert holders(aws) == {internal(chat)}, "the ended holder's slot, taken by the handed-over task"
    done = ended(aws, durable, chat)
    assert done["status"] == "COMPLETED", done
    assert handovers(aws, chat) == 1, "its turn ran once on the worker, then once on the runner"
    assert len(executions_of(durable, chat)) == 1

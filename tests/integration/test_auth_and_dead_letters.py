import pytest

from asyncinfer.cli import main as cli
from asyncinfer.domain.model import TaskStatus
from asyncinfer.handlers import authorizer, dead_letter, worker
from asyncinfer.queue.base import TaskMessage
from asyncinfer.surfaces.async_api import internal_id
from asyncinfer.tasks.keys import create_key, hash_key
from infra.local.functions import LocalContext
from infra.local.poller import Poller
from tests.integration.conftest import REFERENCE_BODY

pytestmark = pytest.mark.integration


def authorize(event):
    return authorizer.lambda_handler(event, LocalContext("authorizer", 5))


def test_a_valid_key_yields_its_tenant_for_every_route(aws, event):
    key = create_key(aws.store, "acme")
    request = event("authorizer_request")
    request["headers"]["Authorization"] = f"Bearer {key}"
    policy = authorize(request)
    assert policy["principalId"] == "acme"
    assert policy["context"] == {"tenant": "acme"}
    (statement,) = policy["policyDocument"]["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Resource"] == ["arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/*/*"]


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer wrong-key", "Basic abc", "bearer " + "x" * 300])
def test_missing_or_unknown_keys_are_unauthorized(aws, event, header):
    create_key(aws.store, "acme")
    request = event("authorizer_request")
    request["headers"].pop("Authorization")
    if header is not None:
        request["headers"]["authorization"] = header
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorize(request)


def test_the_cli_prints_a_key_once_and_stores_only_its_hash(aws, capsys):
    assert cli(["keys", "create", "--tenant", "team-b", "--table", aws.resources.table_name]) == 0
    key = capsys.readouterr().out.strip()
    assert key.startswith("ai_") and len(key) > 40
    record = aws.store.get_api_key(hash_key(key))
    assert record.tenant == "team-b"
    items = aws.ddb.scan(TableName=aws.resources.table_name)["Items"]
    assert key not in str(items)


def test_the_cli_refuses_a_bad_tenant_name(aws, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli(["keys", "create", "--tenant", "Bad Name!", "--table", aws.resources.table_name])
    assert exit_.value.code == 2
    assert "tenant must be" in capsys.readouterr().err


def test_a_dead_lettered_task_fails_and_an_ended_one_stays(aws, event):
    done = internal_id(aws.api("POST", "/v1/async", body=REFERENCE_BODY)[1]["id"])
    aws.run_worker()
    pending = internal_id(aws.api("POST", "/v1/async", body=REFERENCE_BODY)[1]["id"])
    sqs_event = event("dead_letter_sqs")
    record = sqs_event["Records"][0]
    sqs_event["Records"] = [
        {**record, "messageId": f"m{i}", "body": TaskMessage(tenant="acme", task_id=task_id).model_dump_json()}
        for i, task_id in enumerate([pending, done])
    ]
    assert dead_letter.lambda_handler(sqs_event, LocalContext("dead_letter", 5)) == {"batchItemFailures": []}
    failed = aws.store.get("acme", pending)
    assert (failed.status, failed.error.code) == (TaskStatus.FAILED, "dead_lettered")
    assert aws.store.get("acme", done).status == TaskStatus.COMPLETED


def test_redrive_after_max_receives_marks_the_task_dead_lettered(aws, monkeypatch):
    monkeypatch.setenv("ASYNCINFER_MAX_ATTEMPTS", "100")
    # One receive per invocation: with no visibility timeout, an instance taking more from the queue itself
    # would meet the same failed message again at once.
    monkeypatch.setenv("ASYNCINFER_WORKER_REFILL", "false")
    task_id = internal_id(aws.api("POST", "/v1/async", body=REFERENCE_BODY)[1]["id"])
    aws.sqs.set_queue_attributes(QueueUrl=aws.resources.queue_url, Attributes={"VisibilityTimeout": "0"})

    def always_failing(*args, **kwargs):
        raise ConnectionError("model endpoint down")

    worker.runtime()[0].provider_for = always_failing
    for _ in range(3):
        assert aws.run_worker(max_batches=1) == 1
    assert aws.run_worker(max_batches=1) == 0  # moved to the DLQ on the next receive
    assert aws.queue_depth(aws.resources.dlq_url) == 1
    assert aws.store.get("acme", task_id).status == TaskStatus.IN_PROGRESS

    Poller(aws.sqs, aws.resources.dlq_url, aws.resources.dlq_arn, aws.functions, "dead_letter").poll_once()
    task = aws.store.get("acme", task_id)
    assert task.status == TaskStatus.FAILED
    assert task.error.code == "dead_lettered"
    assert aws.queue_depth(aws.resources.dlq_url) == 0

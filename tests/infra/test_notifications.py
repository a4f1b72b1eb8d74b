"""The table stream and its notifier, the webhook queue and sender, the batch function and its schedules."""

import json

import pytest

from asyncinfer.routes import HANDLERS
from asyncinfer.schedules import Schedules
from asyncinfer.store.dynamodb_stream import ENDED_FILTERS
from tests.infra.conftest import synthesize
from tests.infra.helpers import CONFIG, actions_of, functions_by_handler, of_type, policy_statements_of, queue_id

pytestmark = pytest.mark.infra

SCHEDULES = {
    "schedules": [
        {
            "name": "nightly",
            "expression": "cron(0 2 * * ? *)",
            "timezone": "Europe/Paris",
            "tenant": "acme",
            "batch": {"requests": [{"custom_id": "a", "body": {"model": "demo-chat", "messages": []}}]},
        },
        {
            "name": "hourly-images",
            "expression": "rate(1 hour)",
            "tenant": "studio",
            "enabled": False,
            "batch": {"endpoint": "/v1/generation", "input_file": "s3://studio-inputs/hourly.jsonl"},
        },
    ]
}


@pytest.fixture(scope="module")
def scheduled(tmp_path_factory):
    path = tmp_path_factory.mktemp("schedules") / "schedules.json"
    path.write_text(json.dumps(SCHEDULES))
    _, template = synthesize(schedules_file=str(path))
    return template.to_json()["Resources"]


def function_of(resources, name):
    return functions_by_handler(resources)[HANDLERS[name]]


def test_each_configured_schedule_is_a_scheduler_schedule_invoking_the_batch_function_with_its_batch(scheduled):
    batch_fn, _ = function_of(scheduled, "batch")
    schedules = {
        s["Name"] if "Name" in s else s["Description"]: s
        for s in of_type(scheduled, "AWS::Scheduler::Schedule").values()
    }
    assert len(schedules) == 2
    by_name = {}
    for schedule in schedules.values():
        target = schedule["Target"]
        assert target["Arn"] == {"Fn::GetAtt": [batch_fn, "Arn"]}
        by_name[json.loads(target["Input"])["schedule"]] = schedule
    for spec in Schedules.model_validate(SCHEDULES).schedules:
        schedule = by_name[spec.name]
        assert json.loads(schedule["Target"]["Input"]) == {
            "schedule": spec.name,
            "scheduled_time": "<aws.scheduler.scheduled-time>",
            "tenant": spec.tenant,
            "batch": spec.batch,
        }
        assert schedule["ScheduleExpression"] == spec.expression
        assert schedule["ScheduleExpressionTimezone"] == spec.timezone
        assert schedule["State"] == ("ENABLED" if spec.enabled else "DISABLED")
        assert schedule["Target"]["RetryPolicy"]["MaximumRetryAttempts"] == 3
        assert schedule["Target"]["DeadLetterConfig"]["Arn"] == {
            "Fn::GetAtt": [queue_id(scheduled, "BatchDeadLetters"), "Arn"]
        }


def test_the_schedules_role_may_only_invoke_the_batch_function(scheduled):
    batch_fn, _ = function_of(scheduled, "batch")
    (role_arn,) = {json.dumps(s["Target"]["RoleArn"]) for s in of_type(scheduled, "AWS::Scheduler::Schedule").values()}
    role = json.loads(role_arn)["Fn::GetAtt"][0]
    statements = [
        s
        for policy in of_type(scheduled, "AWS::IAM::Policy").values()
        if {"Ref": role} in policy["Roles"]
        for s in policy["PolicyDocument"]["Statement"]
    ]
    assert actions_of(statements) == {"lambda:InvokeFunction", "sqs:SendMessage"}
    for statement in statements:
        if "lambda:InvokeFunction" in actions_of([statement]):
            assert batch_fn in json.dumps(statement["Resource"])
    trust = of_type(scheduled, "AWS::IAM::Role")[role]["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert "aws:SourceAccount" in trust["Condition"]["StringEquals"]


def test_the_shipped_example_schedule_is_deployed_disabled(resources):
    (schedule,) = of_type(resources, "AWS::Scheduler::Schedule").values()
    assert schedule["State"] == "DISABLED"
    assert json.loads(schedule["Target"]["Input"])["schedule"] == "nightly-summaries"


def test_the_table_streams_both_images_and_the_notifier_gets_only_endings(resources):
    (table,) = [
        t for name, t in of_type(resources, "AWS::DynamoDB::GlobalTable").items() if name.startswith("StorageTasks")
    ]
    assert table["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    notifier, _ = function_of(resources, "notifier")
    (mapping,) = [
        m
        for m in of_type(resources, "AWS::Lambda::EventSourceMapping").values()
        if m["FunctionName"] == {"Ref": notifier}
    ]
    assert [json.loads(f["Pattern"]) for f in mapping["FilterCriteria"]["Filters"]] == ENDED_FILTERS
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BisectBatchOnFunctionError"] is True
    assert mapping["StartingPosition"] == "TRIM_HORIZON"
    assert mapping["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": [queue_id(resources, "StreamFailures"), "Arn"]
    }


def test_webhook_and_batch_queues_feed_their_functions_and_redrive_to_their_own_dead_letters(resources):
    queues = of_type(resources, "AWS::SQS::Queue")
    handlers = {name: p["Handler"] for name, p in of_type(resources, "AWS::Lambda::Function").items()}
    sources = {
        json.dumps(m["EventSourceArn"]): handlers[m["FunctionName"]["Ref"]]
        for m in of_type(resources, "AWS::Lambda::EventSourceMapping").values()
        if "EventSourceArn" in m and "Fn::GetAtt" in m["EventSourceArn"]
    }
    for queue, dlq, handler in (
        ("Webhooks", "WebhookDeadLetters", "webhook_sender"),
        ("Batches", "BatchDeadLetters", "batch"),
    ):
        arn = {"Fn::GetAtt": [queue_id(resources, queue), "Arn"]}
        assert sources[json.dumps(arn)] == HANDLERS[handler]
        redrive = queues[queue_id(resources, queue)]["RedrivePolicy"]
        assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": [queue_id(resources, dlq), "Arn"]}
    assert queues[queue_id(resources, "Webhooks")]["RedrivePolicy"]["maxReceiveCount"] > CONFIG.webhook_max_attempts


def test_the_new_functions_get_only_what_they_use(resources):
    def rights(name):
        return actions_of(policy_statements_of(resources, function_of(resources, name)[0]))

    def data(actions):
        return {a for a in actions if a.split(":")[0] in {"dynamodb", "s3", "sqs"}}

    assert data(rights("webhook_sender")) == {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        # its own queue, as an event source (no SendMessage anywhere)
        "sqs:ReceiveMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:GetQueueUrl",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
    }
    assert data(rights("api_webhooks")) == {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:Query",
        "sqs:SendMessage",
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
    }
    notifier = rights("notifier")
    assert {"dynamodb:GetRecords", "dynamodb:GetShardIterator"} <= notifier
    assert not {"dynamodb:DeleteItem", "dynamodb:Scan", "s3:DeleteObject"} & notifier
    notifier_sends = [
        json.dumps(s["Resource"])
        for s in policy_statements_of(resources, function_of(resources, "notifier")[0])
        if "sqs:SendMessage" in actions_of([s])
    ]
    assert all(
        queue_id(resources, "Webhooks") in r or queue_id(resources, "StreamFailures") in r for r in notifier_sends
    )
    batch = rights("batch")
    assert {"dynamodb:BatchGetItem", "sqs:SendMessage", "s3:GetObject", "s3:PutObject"} <= batch
    assert "dynamodb:Scan" not in batch

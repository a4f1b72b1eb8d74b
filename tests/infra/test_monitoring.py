import json

import pytest

from asyncinfer.routes import HANDLERS
from tests.infra.helpers import CONFIG, functions_by_handler, of_type, queue_id

pytestmark = pytest.mark.infra


def alarms_on(resources, metric_name):
    return [a for a in of_type(resources, "AWS::CloudWatch::Alarm").values() if a.get("MetricName") == metric_name]


def dimension(alarm, name):
    (value,) = [d["Value"] for d in alarm["Dimensions"] if d["Name"] == name]
    return value


def queues(resources):
    dlq, tasks = queue_id(resources, "DeadLetters"), queue_id(resources, "Tasks")
    return tasks, dlq


def test_an_alarm_fires_as_soon_as_one_message_reaches_the_dead_letters(resources):
    _, dlq = queues(resources)
    (alarm,) = [
        a
        for a in alarms_on(resources, "ApproximateNumberOfMessagesVisible")
        if dimension(a, "QueueName") == {"Fn::GetAtt": [dlq, "QueueName"]}
    ]
    assert alarm["Threshold"] == 0
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["Statistic"] == "Maximum"


def test_alarms_on_worker_and_dead_letter_consumer_errors(resources):
    by_handler = functions_by_handler(resources)
    watched = {dimension(a, "FunctionName")["Ref"] for a in alarms_on(resources, "Errors")}
    assert {by_handler[HANDLERS["worker"]][0], by_handler[HANDLERS["dead_letter"]][0]} <= watched
    assert all(a["Threshold"] == 0 for a in alarms_on(resources, "Errors"))


def test_an_alarm_on_the_age_of_the_oldest_waiting_task_of_each_class(resources):
    by_queue = {
        dimension(a, "QueueName")["Fn::GetAtt"][0]: a for a in alarms_on(resources, "ApproximateAgeOfOldestMessage")
    }
    limit = CONFIG.alarm_oldest_message_seconds
    # Flex waits under load by design: four times as long before it alarms.
    expected = {"Tasks": limit, "PriorityTasks": limit, "FlexTasks": 4 * limit}
    assert {name: by_queue[queue_id(resources, name)]["Threshold"] for name in expected} == expected
    assert len(by_queue) == len(of_type(resources, "AWS::SQS::Queue"))  # every queue has one


def test_every_alarm_notifies_an_encrypted_topic_and_shows_on_the_dashboard(resources):
    ((topic_id, topic),) = of_type(resources, "AWS::SNS::Topic").items()
    assert topic["KmsMasterKeyId"]
    for alarm in of_type(resources, "AWS::CloudWatch::Alarm").values():
        assert alarm["AlarmActions"] == [{"Ref": topic_id}]
        assert alarm["OKActions"] == [{"Ref": topic_id}]
    (dashboard,) = of_type(resources, "AWS::CloudWatch::Dashboard").values()
    assert dashboard["DashboardName"] == f"asyncinfer-{CONFIG.stage}"
    body = json.dumps(dashboard["DashboardBody"])
    for alarm_id in of_type(resources, "AWS::CloudWatch::Alarm"):
        assert alarm_id in body
    for metric in ("ApproximateAgeOfOldestMessage", "Invocations", "5XXError", "Latency"):
        assert metric in body


def test_a_message_in_any_dead_letter_or_stream_failure_queue_raises_an_alarm(resources):
    watched = {
        dimension(a, "QueueName")["Fn::GetAtt"][0]
        for a in alarms_on(resources, "ApproximateNumberOfMessagesVisible")
        if a["Threshold"] == 0
    }
    for name in ("DeadLetters", "WebhookDeadLetters", "BatchDeadLetters", "StreamFailures"):
        assert queue_id(resources, name) in watched, name

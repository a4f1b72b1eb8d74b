"""The operator's view: a dashboard with every queue's age and depth, an age alarm on every queue, and an audit
table no role in the stack may write (only the operator's own credentials, through the admin commands)."""

from __future__ import annotations

import fnmatch
import json

import pytest

from tests.infra.helpers import CONFIG, as_list, of_type

pytestmark = pytest.mark.infra

AUDIT_ARN = f"arn:aws:dynamodb:us-east-1:123456789012:table/asyncinfer-{CONFIG.stage}-audit"
PSEUDO = {"AWS::Region": "us-east-1", "AWS::AccountId": "123456789012", "AWS::Partition": "aws"}
WRITES = ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem")
WRITES += ("dynamodb:DeleteTable", "dynamodb:UpdateTable", "dynamodb:RestoreTableToPointInTime")


def dashboard_widgets(resources) -> list[dict]:
    """The dashboard's body with each CloudFormation reference as `@<logical id>`, parsed."""
    (dashboard,) = of_type(resources, "AWS::CloudWatch::Dashboard").values()
    assert dashboard["DashboardName"] == f"asyncinfer-{CONFIG.stage}"
    body = dashboard["DashboardBody"]
    parts = body["Fn::Join"][1] if isinstance(body, dict) else [body]
    text = "".join(part if isinstance(part, str) else "@" + _referenced(part) for part in parts)
    return json.loads(text)["widgets"]


def _referenced(part: dict) -> str:
    if "Fn::GetAtt" in part:
        return part["Fn::GetAtt"][0]
    return part.get("Ref", "?")


def graphed(widgets, metric_name: str) -> set[str]:
    """The queues (logical ids) whose `metric_name` some widget graphs."""
    found = set()
    for widget in widgets:
        for metric in widget.get("properties", {}).get("metrics", []):
            names = [m for m in metric if isinstance(m, str)]
            if metric_name in names and "QueueName" in names:
                found.add(names[names.index("QueueName") + 1].removeprefix("@"))
    return found


def test_the_dashboard_shows_every_queues_age_and_depth(resources):
    widgets = dashboard_widgets(resources)
    queues = set(of_type(resources, "AWS::SQS::Queue"))
    assert len(queues) == 10
    assert graphed(widgets, "ApproximateAgeOfOldestMessage") == queues
    assert graphed(widgets, "ApproximateNumberOfMessagesVisible") == queues


def test_the_dashboard_shows_outcomes_in_flight_long_tasks_webhooks_and_spend(resources):
    body = json.dumps(dashboard_widgets(resources))
    for shown in ("TasksCompleted", "TasksFailed", "ApproximateNumberOfMessagesNotVisible", "ConcurrentExecutions"):
        assert shown in body, shown
    for shown in ("WebhooksFailed", "WebhookAttemptsFailed", "Spend", "DurableExecutionStarted"):
        assert shown in body, shown
    (spend,) = [w for w in dashboard_widgets(resources) if "Spend" in w["properties"].get("title", "")]
    assert spend["properties"]["period"] == 86400
    assert spend["properties"]["metrics"][0][:2] == ["asyncinfer", "Spend"]


def test_every_queue_has_an_age_alarm_that_notifies_the_alarm_topic(resources):
    ((topic, _),) = of_type(resources, "AWS::SNS::Topic").items()
    ages = [a for a in of_type(resources, "AWS::CloudWatch::Alarm").values()]
    ages = [a for a in ages if a.get("MetricName") == "ApproximateAgeOfOldestMessage"]
    by_queue = {}
    for alarm in ages:
        (queue,) = [d["Value"]["Fn::GetAtt"][0] for d in alarm["Dimensions"] if d["Name"] == "QueueName"]
        by_queue[queue] = alarm
        assert alarm["AlarmActions"] == [{"Ref": topic}]
    assert set(by_queue) == set(of_type(resources, "AWS::SQS::Queue"))
    threshold = {q: a["Threshold"] for q, a in by_queue.items()}
    lane = {name: next(q for q in threshold if q.startswith(f"Queues{name}")) for name in ("PriorityTasks", "Tasks")}
    priority = threshold[lane["PriorityTasks"]]
    # A batch's items and the flex lane wait longer by design than the priority lane may.
    for name in ("BatchItems", "FlexTasks"):
        (queue,) = [q for q in threshold if q.startswith(f"Queues{name}")]
        assert threshold[queue] > priority, name


def _resource_pattern(value, audit_table: str) -> str:
    """A statement's resource as a glob over ARNs: a reference to the audit table as its ARN, to anything else
    as something no ARN matches."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(_resource_pattern(part, audit_table) for part in parts)
    if "Ref" in value and value["Ref"] in PSEUDO:
        return PSEUDO[value["Ref"]]
    referenced = _referenced(value)
    return AUDIT_ARN if referenced == audit_table else f"<{referenced}>"


def statements_of_every_role(resources):
    for name, policy in of_type(resources, "AWS::IAM::Policy").items():
        for statement in policy["PolicyDocument"]["Statement"]:
            yield name, statement
    for name, role in of_type(resources, "AWS::IAM::Role").items():
        for policy in role.get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                yield name, statement


def test_no_role_in_the_stack_may_write_the_audit_table(resources):
    tables = of_type(resources, "AWS::DynamoDB::GlobalTable")
    (audit_table,) = [n for n, t in tables.items() if t.get("TableName") == f"asyncinfer-{CONFIG.stage}-audit"]
    writers = []
    for name, statement in statements_of_every_role(resources):
        if statement["Effect"] != "Allow":
            continue
        actions = [a for a in WRITES if any(fnmatch.fnmatchcase(a, p) for p in as_list(statement["Action"]))]
        named = [_resource_pattern(r, audit_table) for r in as_list(statement.get("Resource", []))]
        if actions and any(fnmatch.fnmatchcase(AUDIT_ARN, r) for r in named):
            writers.append((name, actions, named))
    assert writers == []


def test_no_function_is_told_the_audit_tables_name(resources):
    for name, function in of_type(resources, "AWS::Lambda::Function").items():
        variables = function.get("Environment", {}).get("Variables", {})
        assert "ASYNCINFER_AUDIT_TABLE_NAME" not in variables, name
        assert f"asyncinfer-{CONFIG.stage}-audit" not in json.dumps(variables), name

import json
import os
import re
from unittest import mock

import pytest
from aws_cdk.assertions import Match

from asyncinfer.routes import HANDLERS
from tests.infra.conftest import cfn_lint
from tests.infra.helpers import (
    CONFIG,
    actions_of,
    deployed_handler,
    functions_by_handler,
    module_of,
    of_type,
    policy_statements_of,
    queue_id,
    resolve_handler,
)

pytestmark = pytest.mark.infra


def test_synth_passes_cdk_nag_with_no_unacknowledged_findings(synth):
    stack, _ = synth
    assert stack.stack_name == "asyncinfer-prod"


def test_table_keys_ttl_and_point_in_time_recovery(template):
    template.has_resource_properties(
        "AWS::DynamoDB::GlobalTable",
        {
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
            "Replicas": [Match.object_like({"PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True}})],
        },
    )


def test_dead_letter_redrive_and_visibility_of_six_worker_timeouts(resources):
    queues = of_type(resources, "AWS::SQS::Queue")
    tasks, dlq_name = queues[queue_id(resources, "Tasks")], queue_id(resources, "DeadLetters")
    assert tasks["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": [dlq_name, "Arn"]}
    assert 3 <= tasks["RedrivePolicy"]["maxReceiveCount"] <= 5
    worker = functions_by_handler(resources)["asyncinfer.handlers.worker.lambda_handler"][1]
    assert tasks["VisibilityTimeout"] >= 6 * worker["Timeout"]
    assert all(q["SqsManagedSseEnabled"] for q in queues.values())


def test_queues_refuse_plain_http(resources):
    for policy in of_type(resources, "AWS::SQS::QueuePolicy").values():
        (statement,) = policy["PolicyDocument"]["Statement"]
        assert statement["Effect"] == "Deny"
        assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert len(of_type(resources, "AWS::SQS::QueuePolicy")) == len(of_type(resources, "AWS::SQS::Queue"))


def test_worker_event_source_reports_partial_failures_with_capped_concurrency(resources):
    handlers = {name: p["Handler"] for name, p in of_type(resources, "AWS::Lambda::Function").items()}
    tasks = {"Fn::GetAtt": [queue_id(resources, "Tasks"), "Arn"]}
    mappings = {
        handlers[m["FunctionName"]["Ref"]]: m
        for m in of_type(resources, "AWS::Lambda::EventSourceMapping").values()
        if handlers[m["FunctionName"]["Ref"]] != HANDLERS["worker"] or m["EventSourceArn"] == tasks
    }
    worker = mappings["asyncinfer.handlers.worker.lambda_handler"]
    assert worker["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert worker["ScalingConfig"] == {"MaximumConcurrency": CONFIG.worker_max_concurrency}
    assert worker["BatchSize"] == CONFIG.worker_batch_size
    assert mappings["asyncinfer.handlers.dead_letter.lambda_handler"]["FunctionResponseTypes"] == [
        "ReportBatchItemFailures"
    ]


def test_buckets_block_public_access_and_refuse_plain_http(resources):
    buckets = of_type(resources, "AWS::S3::Bucket")
    assert len(buckets) == 2
    for bucket in buckets.values():
        assert bucket["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
    for policy in of_type(resources, "AWS::S3::BucketPolicy").values():
        denies = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
        assert denies and denies[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert len(of_type(resources, "AWS::S3::BucketPolicy")) == 2


def test_outputs_expire_with_the_retention_period(resources):
    outputs = next(b for b in of_type(resources, "AWS::S3::Bucket").values() if "LoggingConfiguration" in b)
    expiring = {r["Prefix"]: r["ExpirationInDays"] for r in outputs["LifecycleConfiguration"]["Rules"] if "Prefix" in r}
    prefixes = ("requests/", "results/", "outputs/", "batches/", "uploads/")
    assert expiring == {p: CONFIG.retention_days + 1 for p in prefixes}


def test_least_privilege(resources):
    by_handler = functions_by_handler(resources)
    worker = actions_of(policy_statements_of(resources, by_handler["asyncinfer.handlers.worker.lambda_handler"][0]))
    dead = actions_of(policy_statements_of(resources, by_handler["asyncinfer.handlers.dead_letter.lambda_handler"][0]))
    assert {"dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:PutItem", "s3:GetObject", "s3:PutObject"} <= worker
    # Backoff of transient failures: the worker shortens a failed message's visibility.
    assert {"sqs:ChangeMessageVisibility", "sqs:GetQueueUrl"} <= worker
    forbidden = {"dynamodb:DeleteTable", "dynamodb:DeleteItem", "dynamodb:Scan", "s3:DeleteObject", "s3:DeleteBucket"}
    assert not worker & forbidden
    assert not any(a.endswith("*") and not a.startswith(("sqs:", "xray:")) for a in worker)
    # Tasks are failed by an update; a dead-lettered webhook delivery is recorded failed by a (conditional) put.
    assert {a for a in dead if a.startswith("dynamodb:")} == {
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
        "dynamodb:PutItem",
    }
    assert not any(a.startswith("s3:") for a in dead)
    # The worker may receive from the tasks queue only, never from the dead letters.
    dlq = queue_id(resources, "DeadLetters")
    worker_sqs = [
        s
        for s in policy_statements_of(resources, by_handler["asyncinfer.handlers.worker.lambda_handler"][0])
        if any(a.startswith("sqs:") for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"]))
    ]
    assert worker_sqs and all(s["Resource"] != {"Fn::GetAtt": [dlq, "Arn"]} for s in worker_sqs)


def test_every_handler_path_is_a_real_callable(resources):
    handlers = set(functions_by_handler(resources))
    deployed = {deployed_handler(name) for name in HANDLERS}
    assert handlers == deployed, "every function of asyncinfer.routes is deployed, and only those"
    for handler in handlers:
        assert callable(resolve_handler(handler)[1]), handler


def test_every_function_environment_satisfies_its_settings_model(resources):
    for handler, (_, props) in functions_by_handler(resources).items():
        module = resolve_handler(handler)[0]
        env = {k: _resolved(k, v) for k, v in props["Environment"]["Variables"].items()}
        ours = {k.removeprefix("ASYNCINFER_").lower() for k in env if k.startswith("ASYNCINFER_")}
        assert ours <= set(module.SETTINGS.model_fields), f"{handler} gets variables its settings do not read: {ours}"
        required = {name for name, field in module.SETTINGS.model_fields.items() if field.is_required()}
        assert required <= ours, f"{handler} is missing {required - ours}"
        with mock.patch.dict(os.environ, env, clear=True):  # read as at cold start (JSON maps and lists too)
            module.SETTINGS()


def _resolved(name: str, value) -> str:
    """A deployed variable's value with each token as a placeholder (a JSON map keyed by ARNs stays JSON)."""
    if isinstance(value, str):
        return value
    join = value.get("Fn::Join") if isinstance(value, dict) else None
    if join and join[0] == "":
        return "".join(part if isinstance(part, str) else "resolved" for part in join[1])
    return f"resolved-{name.lower()}"


def test_cfn_lint_passes(template, tmp_path):
    result = cfn_lint(template, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_functions_run_python_313_on_the_configured_architecture(resources):
    for props in of_type(resources, "AWS::Lambda::Function").values():
        assert props["Runtime"] == "python3.13"
        assert props["Architectures"] == [CONFIG.architecture]
        assert re.match(r"^asyncinfer(\.handlers\.\w+\.lambda_handler|/handlers/\w+\.sh)$", props["Handler"])
        # Cold start: no function looks for pydantic plugins (none uses any).
        assert props["Environment"]["Variables"]["PYDANTIC_DISABLE_PLUGINS"] == "__all__"


def test_the_in_flight_and_queued_indexes_are_sparse_and_keys_only(template):
    template.has_resource_properties(
        "AWS::DynamoDB::GlobalTable",
        {
            "GlobalSecondaryIndexes": [
                {
                    "IndexName": name,
                    "KeySchema": [
                        {"AttributeName": name, "KeyType": "HASH"},
                        {"AttributeName": "sk", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "KEYS_ONLY"},
                }
                for name in ("inflight", "queued")
            ]
        },
    )


def index_grants(resources, function: str) -> dict[str, set[str]]:
    """DynamoDB actions of a function by what they are on: 'table' or an index name."""
    grants: dict[str, set[str]] = {}
    for statement in policy_statements_of(resources, function):
        actions = {a for a in actions_of([statement]) if a.startswith("dynamodb:")}
        if not actions:
            continue
        text = json.dumps(statement["Resource"])
        on = re.search(r"/index/([A-Za-z0-9*]+)", text)
        grants.setdefault(on.group(1) if on else "table", set()).update(actions)
    return grants


def test_the_sweeper_runs_on_a_schedule_and_may_only_scan_the_in_flight_index(resources):
    by_handler = functions_by_handler(resources)
    fn_name, props = by_handler["asyncinfer.handlers.sweeper.lambda_handler"]
    sweeps = [
        rule
        for rule in of_type(resources, "AWS::Events::Rule").values()
        if any(target["Arn"] == {"Fn::GetAtt": [fn_name, "Arn"]} for target in rule["Targets"])
    ]
    deadlines, orphans = sorted(sweeps, key=lambda r: r["Description"])
    assert "deadlines" in deadlines["Description"] and "orphaned" in orphans["Description"]
    assert orphans["ScheduleExpression"] == f"rate({CONFIG.sweep_every_minutes} minutes)"
    assert deadlines["ScheduleExpression"] == "rate(1 minute)"
    for rule in (orphans, deadlines):
        assert rule["State"] == "ENABLED"
        (target,) = rule["Targets"]
        assert target["Arn"] == {"Fn::GetAtt": [fn_name, "Arn"]}
    assert props["Environment"]["Variables"]["ASYNCINFER_ORPHAN_AFTER_SECONDS"] == str(CONFIG.orphan_after_seconds)
    # The table's own items: tasks read and marked, the deadlines due queried (one partition) and deleted, and a
    # single flex task's `task.escalated` delivery written.
    assert index_grants(resources, fn_name) == {
        "inflight": {"dynamodb:Scan"},
        "table": {
            "dynamodb:GetItem",
            "dynamodb:UpdateItem",
            "dynamodb:Query",
            "dynamodb:DeleteItem",
            "dynamodb:PutItem",
        },
    }
    assert "sqs:SendMessage" in actions_of(policy_statements_of(resources, fn_name))
    # No function may read every index, and only the functions that submit tasks count in the in-flight index.
    submitters = {HANDLERS[name] for name in ("api_async", "api_perplexity", "api_privategpt", "api_netmind")}
    submitters |= {HANDLERS["api_batches"], HANDLERS["batch"], deployed_handler("api_responses")}
    for handler, (other, _) in by_handler.items():
        grants = index_grants(resources, other)
        assert "*" not in grants, handler
        if handler in submitters:
            assert grants["inflight"] == {"dynamodb:Query"}, handler
        elif "sweeper" not in handler:
            assert "inflight" not in grants, handler


def test_batch_items_have_a_queue_and_a_worker_concurrency_of_their_own(resources):
    """A batch never stands in front of anyone's task: its items reach the worker through their own queue,
    with their own cap on concurrent worker instances; their dead letters go where the tasks' go."""
    worker_id = functions_by_handler(resources)[HANDLERS["worker"]][0]
    items, tasks = queue_id(resources, "BatchItems"), queue_id(resources, "Tasks")
    by_queue = {
        m["EventSourceArn"]["Fn::GetAtt"][0]: m
        for m in of_type(resources, "AWS::Lambda::EventSourceMapping").values()
        if m["FunctionName"] == {"Ref": worker_id}
    }
    priority, flex = queue_id(resources, "PriorityTasks"), queue_id(resources, "FlexTasks")
    assert set(by_queue) == {items, tasks, priority, flex}
    assert by_queue[items]["ScalingConfig"] == {"MaximumConcurrency": CONFIG.batch_worker_max_concurrency}
    assert by_queue[items]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    queue = of_type(resources, "AWS::SQS::Queue")[items]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": [queue_id(resources, "DeadLetters"), "Arn"]}
    assert queue["VisibilityTimeout"] == of_type(resources, "AWS::SQS::Queue")[tasks]["VisibilityTimeout"]
    senders = {
        name
        for name, props in functions_by_handler(resources).items()
        if any(
            "sqs:SendMessage" in actions_of([s]) and {"Fn::GetAtt": [items, "Arn"]} == s["Resource"]
            for s in policy_statements_of(resources, props[0])
        )
    }
    # The batch function queues the items; the worker sends a waiting long task's message back; the runner queues
    # the items a provider batch job did not answer (asyncinfer.tasks.provider_parts.hand_back).
    assert senders == {HANDLERS["batch"], HANDLERS["worker"], HANDLERS["runner"]}


def test_each_class_has_a_lane_with_workers_of_its_own_and_every_submitter_may_send_to_each(resources):
    """Weighted shares: each class's queue reaches the worker with its own cap on concurrent instances, so
    a higher class starts first under any backlog of a lower one and the lower one keeps its share."""
    worker_id = functions_by_handler(resources)[HANDLERS["worker"]][0]
    by_queue = {
        m["EventSourceArn"]["Fn::GetAtt"][0]: m
        for m in of_type(resources, "AWS::Lambda::EventSourceMapping").values()
        if m["FunctionName"] == {"Ref": worker_id}
    }
    caps = {
        "PriorityTasks": CONFIG.priority_worker_max_concurrency,
        "Tasks": CONFIG.worker_max_concurrency,
        "FlexTasks": CONFIG.flex_worker_max_concurrency,
    }
    queues = of_type(resources, "AWS::SQS::Queue")
    for name, cap in caps.items():
        lane = queue_id(resources, name)
        assert by_queue[lane]["ScalingConfig"] == {"MaximumConcurrency": cap}
        assert by_queue[lane]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert queues[lane]["RedrivePolicy"]["deadLetterTargetArn"] == {
            "Fn::GetAtt": [queue_id(resources, "DeadLetters"), "Arn"]
        }
        senders = {
            name
            for name, props in functions_by_handler(resources).items()
            if any(
                "sqs:SendMessage" in actions_of([s]) and {"Fn::GetAtt": [lane, "Arn"]} == s["Resource"]
                for s in policy_statements_of(resources, props[0])
            )
        }
        submitters = ("api_async", "api_perplexity", "api_privategpt", "api_netmind", "sweeper")
        assert {HANDLERS[f] for f in submitters} <= senders


def test_only_the_functions_that_use_client_secrets_may_open_them(resources):
    """Every function that stores a submit may seal (GenerateDataKey) but not open; the worker opens MCP
    credentials only (and so does the long-task runner), the sender webhook URLs only, the batch function
    both (to make items of its lines)."""
    (key,) = of_type(resources, "AWS::KMS::Key").keys() - {
        name for name in of_type(resources, "AWS::KMS::Key") if name.startswith("Monitoring")
    }
    assert resources[key]["Properties"]["EnableKeyRotation"] is True
    assert resources[key]["DeletionPolicy"] == "Retain"
    opens, seals = {}, set()
    for handler, (name, _) in functions_by_handler(resources).items():
        for statement in policy_statements_of(resources, name):
            actions = {statement["Action"]} if isinstance(statement["Action"], str) else set(statement["Action"])
            if not any(a.startswith("kms:") for a in actions) or statement["Resource"] != {"Fn::GetAtt": [key, "Arn"]}:
                continue
            module = module_of(handler)
            if "kms:GenerateDataKey" in actions:
                seals.add(module)
            if "kms:Decrypt" in actions:
                opens[module] = statement["Condition"]["StringEquals"]["kms:EncryptionContext:use"]
            assert actions <= {"kms:GenerateDataKey", "kms:Decrypt"}
    assert opens == {"worker": ["mcp"], "runner": ["mcp"], "webhook_sender": ["webhook"], "batch": ["mcp", "webhook"]}
    assert seals == {"api_async", "api_netmind", "api_perplexity", "api_privategpt", "api_batches", "batch"} | {
        "api_responses"
    }


def test_the_long_task_runner_is_a_durable_function_reached_only_through_its_alias(resources):
    """The runner has a durable config and no event source; the worker may invoke its alias and nothing
    else; the task surfaces may stop its executions; it checkpoints only its own executions."""
    runner_id, runner = functions_by_handler(resources)[HANDLERS["runner"]]
    assert runner["Timeout"] == 900
    assert runner["DurableConfig"] == {"ExecutionTimeout": 7 * 86400, "RetentionPeriodInDays": 14}
    assert not [
        m
        for m in of_type(resources, "AWS::Lambda::EventSourceMapping").values()
        if m["FunctionName"] == {"Ref": runner_id}
    ]
    ((alias_id, alias),) = of_type(resources, "AWS::Lambda::Alias").items()
    assert alias["Name"] == "live"
    assert alias["FunctionName"] == {"Ref": runner_id}

    worker_id, worker = functions_by_handler(resources)[HANDLERS["worker"]]
    assert worker["Environment"]["Variables"]["ASYNCINFER_RUNNER_FUNCTION_ARN"] == {"Ref": alias_id}
    invokes = [s for s in policy_statements_of(resources, worker_id) if "lambda:InvokeFunction" in actions_of([s])]
    assert [s["Resource"] for s in invokes] == [{"Ref": alias_id}]

    own = f'{{"Fn::Join": ["", [{{"Fn::GetAtt": ["{runner_id}", "Arn"]}}, ":*"]]}}'
    stoppers = set()
    for handler, (logical_id, _) in functions_by_handler(resources).items():
        for statement in policy_statements_of(resources, logical_id):
            if "lambda:StopDurableExecution" in actions_of([statement]):
                assert json.dumps(statement["Resource"]) == own
                stoppers.add(module_of(handler))
    assert stoppers == {"api_async", "api_netmind", "api_perplexity", "api_privategpt", "api_batches", "batch"} | {
        "api_responses"
    }

    checkpoints = [
        s
        for policy in of_type(resources, "AWS::IAM::Policy").values()
        for s in policy["PolicyDocument"]["Statement"]
        if "lambda:CheckpointDurableExecution" in actions_of([s])
    ]
    assert [json.dumps(s["Resource"]) for s in checkpoints] == [own]
    assert actions_of(checkpoints) == {"lambda:CheckpointDurableExecution", "lambda:GetDurableExecutionState"}


def test_a_region_without_durable_functions_deploys_without_the_runner():
    """long_tasks false: no runner, no rights on one, and the API is not told of one (it refuses long
    tasks at submit, tests/integration/test_long_tasks.py)."""
    from tests.infra.conftest import synthesize

    _, template = synthesize(long_tasks=False)
    resources = template.to_json()["Resources"]
    assert HANDLERS["runner"] not in functions_by_handler(resources)
    assert not of_type(resources, "AWS::Lambda::Alias")
    for logical_id, props in functions_by_handler(resources).values():
        assert "ASYNCINFER_RUNNER_FUNCTION_ARN" not in props.get("Environment", {}).get("Variables", {})
        assert not any(a.startswith("lambda:") for a in actions_of(policy_statements_of(resources, logical_id)))

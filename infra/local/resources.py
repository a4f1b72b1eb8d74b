"""The stack's resources in the emulator: the table, queues, bucket and sealing key it makes (provision), the
settings the functions find them by (Resources.env), and the region and credentials it keeps them under. The
same whether the emulator is moto's server (infra.local.emulator) or moto in-process (the tests' mock_aws)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from asyncinfer.store.dynamodb_audit import AUDIT_ATTRIBUTES, AUDIT_KEY_SCHEMA, audit_table_name
from asyncinfer.store.schema import (
    TABLE_ATTRIBUTES,
    TABLE_INDEXES,
    TABLE_KEY_SCHEMA,
    TABLE_STREAM_VIEW,
    TTL_ATTRIBUTE,
)
from infra.queue_plan import QueueSpec, queue_plan

REGION = "us-east-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
# Locally the worker "function" times out after this; the queue follows AWS's 6 x timeout guidance.
WORKER_TIMEOUT_SECONDS = 60
MAX_RECEIVE_COUNT = 3
WEBHOOK_MAX_ATTEMPTS = 8  # the sender's default (ASYNCINFER_WEBHOOK_MAX_ATTEMPTS)


@dataclass(frozen=True)
class Resources:
    endpoint: str
    table_name: str
    queue_url: str
    queue_arn: str
    dlq_url: str
    dlq_arn: str
    bucket_name: str
    stream_arn: str = ""
    webhook_queue_url: str = ""
    webhook_queue_arn: str = ""
    batch_queue_url: str = ""
    batch_queue_arn: str = ""
    batch_items_queue_url: str = ""
    batch_items_queue_arn: str = ""
    webhook_dlq_url: str = ""
    webhook_dlq_arn: str = ""
    sealing_key_id: str = ""
    priority_queue_url: str = ""
    priority_queue_arn: str = ""
    flex_queue_url: str = ""
    flex_queue_arn: str = ""
    audit_table_name: str = ""

    def env(self) -> dict[str, str]:
        """What the functions see in their environment, as on AWS (plus the emulator endpoint), and the audit
        table the admin commands write (which no function reads or writes: on AWS none is given its name)."""
        env = {
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            **CREDENTIALS,
            "ASYNCINFER_TABLE_NAME": self.table_name,
            "ASYNCINFER_QUEUE_URL": self.queue_url,
            "ASYNCINFER_BUCKET_NAME": self.bucket_name,
            "ASYNCINFER_WEBHOOK_QUEUE_URL": self.webhook_queue_url,
            "ASYNCINFER_BATCH_QUEUE_URL": self.batch_queue_url,
            "ASYNCINFER_BATCH_ITEMS_QUEUE_URL": self.batch_items_queue_url,
            "ASYNCINFER_PRIORITY_QUEUE_URL": self.priority_queue_url,
            "ASYNCINFER_FLEX_QUEUE_URL": self.flex_queue_url,
            "ASYNCINFER_SEALING_KEY_ID": self.sealing_key_id,
            "ASYNCINFER_AUDIT_TABLE_NAME": self.audit_table_name,
        }
        if self.endpoint:
            env["AWS_ENDPOINT_URL"] = self.endpoint
        return env


def provision(clients: Callable[[str], Any], prefix: str, endpoint: str = "") -> Resources:
    """Create the stack's table, queues, bucket and sealing key with these clients (moto server or in-process)."""
    ddb, sqs, s3 = clients("dynamodb"), clients("sqs"), clients("s3")
    table = f"{prefix}-tasks"
    ddb.create_table(
        TableName=table,
        KeySchema=TABLE_KEY_SCHEMA,
        AttributeDefinitions=TABLE_ATTRIBUTES,
        GlobalSecondaryIndexes=TABLE_INDEXES,
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": TABLE_STREAM_VIEW},
    )
    stream_arn = ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    ddb.update_time_to_live(TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE})
    audit = audit_table_name(prefix)
    ddb.create_table(
        TableName=audit,
        KeySchema=AUDIT_KEY_SCHEMA,
        AttributeDefinitions=AUDIT_ATTRIBUTES,
        BillingMode="PAY_PER_REQUEST",
    )
    plan = queue_plan(
        worker_timeout_seconds=WORKER_TIMEOUT_SECONDS,
        max_receive_count=MAX_RECEIVE_COUNT,
        webhook_max_attempts=WEBHOOK_MAX_ATTEMPTS,
    )
    dead = {name: _queue(sqs, f"{prefix}-{name}", {}) for name in dict.fromkeys(s.dead_letters for s in plan)}
    made = {
        spec.name: _queue(sqs, f"{prefix}-{spec.name}", _redrive(dead[spec.dead_letters][1], spec)) for spec in plan
    }
    (queue_url, queue_arn), (items_url, items_arn) = made["tasks"], made["batch-items"]
    (webhook_url, webhook_arn), (batch_url, batch_arn) = made["webhooks"], made["batches"]
    (dlq_url, dlq_arn), (webhook_dlq_url, webhook_dlq_arn) = dead["tasks-dlq"], dead["webhooks-dlq"]
    bucket = f"{prefix}-outputs"
    s3.create_bucket(Bucket=bucket)
    key = clients("kms").create_key(Description=f"{prefix}: seals client secrets")["KeyMetadata"]["Arn"]
    return Resources(
        endpoint=endpoint,
        table_name=table,
        queue_url=queue_url,
        queue_arn=queue_arn,
        dlq_url=dlq_url,
        dlq_arn=dlq_arn,
        bucket_name=bucket,
        stream_arn=stream_arn,
        webhook_queue_url=webhook_url,
        webhook_queue_arn=webhook_arn,
        batch_queue_url=batch_url,
        batch_items_queue_url=items_url,
        batch_items_queue_arn=items_arn,
        webhook_dlq_url=webhook_dlq_url,
        webhook_dlq_arn=webhook_dlq_arn,
        batch_queue_arn=batch_arn,
        sealing_key_id=key,
        priority_queue_url=made["tasks-priority"][0],
        priority_queue_arn=made["tasks-priority"][1],
        flex_queue_url=made["tasks-flex"][0],
        flex_queue_arn=made["tasks-flex"][1],
        audit_table_name=audit,
    )


def _queue(sqs: Any, name: str, attributes: dict[str, str]) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def _redrive(dlq_arn: str, spec: QueueSpec) -> dict[str, str]:
    return {
        "VisibilityTimeout": str(spec.visibility_seconds),
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": spec.max_receives}),
    }

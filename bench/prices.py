"""us-east-1 on-demand list prices used to price a task's AWS calls. Dated; each with its source page.

As listed on 2026-11-22 on the pages below (DynamoDB's on-demand throughput price is the one in effect
since its 50% cut of 1 November 2024). No free tier is counted. If AWS changes a price, change it here:
every cost figure of `make bench` is computed from this table.
"""

from __future__ import annotations

PRICES_DATED = "2026-11-22"
REGION = "us-east-1"

# USD per unit.
PRICES: dict[str, float] = {
    # https://aws.amazon.com/api-gateway/pricing/ : REST APIs, first 333 million requests a month.
    "apigateway_rest_request": 3.50 / 1e6,
    # https://aws.amazon.com/lambda/pricing/ : requests, and Arm duration (first 7.5 billion GB-s a month).
    "lambda_request": 0.20 / 1e6,
    "lambda_arm_gb_second": 0.0000133334,
    # https://aws.amazon.com/lambda/pricing/ : durable functions, per durable operation (a step, a wait).
    "lambda_durable_operation": 8.00 / 1e6,
    # https://aws.amazon.com/dynamodb/pricing/on-demand/ : standard table class.
    "dynamodb_write_request_unit": 0.625 / 1e6,
    "dynamodb_read_request_unit": 0.125 / 1e6,
    # https://aws.amazon.com/sqs/pricing/ : standard queue, each 64 KB chunk of a request is one request.
    "sqs_request": 0.40 / 1e6,
    # https://aws.amazon.com/s3/pricing/ : S3 Standard requests.
    "s3_put_request": 0.005 / 1e3,
    "s3_get_request": 0.0004 / 1e3,
    # https://aws.amazon.com/step-functions/pricing/ : Standard workflows, per state transition.
    "stepfunctions_standard_transition": 0.025 / 1e3,
    # https://aws.amazon.com/waf/pricing/ : per request a web ACL inspects (cdk.json `waf`, off by default),
    # and monthly per web ACL and per rule (a managed rule group counts as one; AWS's baseline groups have no
    # fee of their own), prorated by the hour.
    "waf_request": 0.60 / 1e6,
    "waf_web_acl_month": 5.00,
    "waf_rule_month": 1.00,
}

SOURCES = {
    "API Gateway": "https://aws.amazon.com/api-gateway/pricing/",
    "Lambda": "https://aws.amazon.com/lambda/pricing/",
    "DynamoDB": "https://aws.amazon.com/dynamodb/pricing/on-demand/",
    "SQS": "https://aws.amazon.com/sqs/pricing/",
    "S3": "https://aws.amazon.com/s3/pricing/",
    "Step Functions": "https://aws.amazon.com/step-functions/pricing/",
    "WAF": "https://aws.amazon.com/waf/pricing/",
}

# Billing rules the prices depend on (same pages): DynamoDB bills a write per started KB of the item
# (the larger of before and after for an update), a strongly consistent read per started 4 KB (half
# for an eventually consistent one; a Query sums its items' sizes first), transactions twice, and a
# write to an index per index whose key the write adds, changes or removes. Lambda bills duration per
# ms at the configured memory.
WRITE_UNIT_BYTES = 1024
READ_UNIT_BYTES = 4096

"""The functions behind the API write their tenants' items and never what only the operator writes (the
`asyncinfer keys` and `asyncinfer budget` commands): the items API keys are looked up by, each tenant's list
of its keys, and a budget's limits. IAM refuses those writes by the item's partition key
(dynamodb:LeadingKeys), and in the partition a budget shares with the usage the API writes, by attribute."""

from __future__ import annotations

from decimal import Decimal

import pytest

from asyncinfer.domain.budgets import Budget
from asyncinfer.routes import HANDLERS
from asyncinfer.tasks.keys import create_key
from tests.infra.helpers import denied, functions_by_handler, policy_statements_of
from tests.integration.conftest import aws  # noqa: F401  (the emulator fixture)

pytestmark = pytest.mark.infra

API_FUNCTIONS = ("api_async", "api_batches", "api_netmind", "api_perplexity", "api_privategpt", "api_webhooks")
API_FUNCTIONS += ("stream",)
KEY = "apikey#" + "ab" * 32
# (action, partition key, attributes the request names)
OPERATORS_ONLY = [
    ("dynamodb:PutItem", KEY, ("pk", "sk", "tenant", "created_at")),  # a key minted
    ("dynamodb:UpdateItem", KEY, ("tenant",)),  # a key moved to another tenant
    ("dynamodb:DeleteItem", KEY, ()),
    ("dynamodb:BatchWriteItem", KEY, ("pk", "sk", "tenant")),
    ("dynamodb:PutItem", "keys#acme", ("pk", "sk", "key_hash")),
    ("dynamodb:UpdateItem", "keys#acme", ("revoked_at",)),  # a revocation undone
    ("dynamodb:UpdateItem", "usage#acme", ("daily",)),  # a limit raised or removed
    ("dynamodb:UpdateItem", "usage#acme", ("monthly",)),
    ("dynamodb:PutItem", "usage#acme", ("pk", "sk")),  # the budget item replaced by one without limits
    ("dynamodb:DeleteItem", "usage#acme", ()),
]
TENANTS_OWN = [
    ("dynamodb:PutItem", "acme", ("pk", "sk", "status", "request")),  # a task, a name, a batch, a delivery
    ("dynamodb:UpdateItem", "acme", ("status", "updated_at")),
    ("dynamodb:DeleteItem", "acme", ()),
    ("dynamodb:PutItem", "acme#0197a3b2c4d5e6f708192a3b4c5d6e7f", ("pk", "sk", "data")),  # an event
    ("dynamodb:UpdateItem", "rate#acme", ("submits", "expires_at")),  # the submit-rate window
    ("dynamodb:UpdateItem", "usage#acme", ("held_e8", "reserved_e8")),  # a submit's reservation
    ("dynamodb:PutItem", "_due", ("pk", "sk")),  # a deadline
    ("dynamodb:DeleteItem", "_due", ()),
    ("dynamodb:PutItem", "streams#acme", ("pk", "sk", "expires_at")),  # a stream's lease
]


def statements(resources, name: str) -> list[dict]:
    return policy_statements_of(resources, functions_by_handler(resources)[HANDLERS[name]][0])


@pytest.mark.parametrize("name", API_FUNCTIONS)
@pytest.mark.parametrize(("action", "partition", "attributes"), OPERATORS_ONLY)
def test_an_api_function_may_not_write_keys_or_a_budgets_limits(resources, name, action, partition, attributes):
    assert denied(statements(resources, name), action, partition, attributes)


@pytest.mark.parametrize("name", API_FUNCTIONS)
@pytest.mark.parametrize(("action", "partition", "attributes"), TENANTS_OWN)
def test_an_api_function_still_writes_its_tenants_items(resources, name, action, partition, attributes):
    assert not denied(statements(resources, name), action, partition, attributes)


@pytest.mark.integration
def test_the_items_the_operator_writes_are_refused_as_the_store_spells_them(aws, resources):  # noqa: F811
    """Not the spellings above but the store's own: a key and a budget written by the real store, each of
    their items refused to every API function, by its partition key or (the budget) each attribute."""
    create_key(aws.store, "acme")
    keys = aws.ddb.scan(TableName=aws.resources.table_name)["Items"]
    assert len(keys) == 2, "the key's item and its line in the tenant's list"
    aws.store.set_budget("acme", Budget(daily=Decimal("1.5"), monthly=Decimal(20)), at=1)
    [budget] = [i for i in aws.ddb.scan(TableName=aws.resources.table_name)["Items"] if i not in keys]
    for name in API_FUNCTIONS:
        granted = statements(resources, name)
        for item in keys:
            for action in ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"):
                assert denied(granted, action, item["pk"]["S"], set(item) - {"pk", "sk"}), (name, item["pk"])
        for attribute in set(budget) - {"pk", "sk"}:
            assert denied(granted, "dynamodb:UpdateItem", budget["pk"]["S"], {attribute}), (name, attribute)
        for action in ("dynamodb:PutItem", "dynamodb:DeleteItem"):
            assert denied(granted, action, budget["pk"]["S"], ()), (name, action)

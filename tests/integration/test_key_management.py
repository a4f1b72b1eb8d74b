"""API keys can be listed, expire, and be revoked: `asyncinfer keys list | revoke | create --expires`."""

import re
import time

import pytest
from botocore.exceptions import ClientError

from asyncinfer import cli
from asyncinfer.domain.errors import InvalidRequest
from asyncinfer.store.dynamodb import DynamoTaskStore
from asyncinfer.tasks.keys import authenticate, create_key, hash_key, parse_expiry
from tests.conftest import load_event

pytestmark = pytest.mark.integration


def keys(aws, capsys, *args: str) -> str:
    assert cli.main(["keys", *args, "--table", aws.resources.table_name]) == 0
    return capsys.readouterr().out


def authorized(aws, key: str) -> bool:
    request = load_event("authorizer_request")
    request["headers"]["Authorization"] = f"Bearer {key}"
    try:
        aws.functions.invoke("authorizer", request)
    except Exception as exc:
        assert str(exc) == "Unauthorized"
        return False
    return True


def test_a_key_is_listed_by_id_and_stops_working_when_revoked(aws, capsys):
    first = keys(aws, capsys, "create", "--tenant", "acme").strip()
    second = keys(aws, capsys, "create", "--tenant", "acme", "--expires", "30d").strip()
    other = keys(aws, capsys, "create", "--tenant", "globex").strip()
    listing = keys(aws, capsys, "list", "--tenant", "acme")
    rows = [line.split("\t") for line in listing.splitlines()]
    assert sorted(r[0] for r in rows) == sorted(hash_key(k)[:16] for k in (first, second))
    assert first not in listing and second not in listing  # ids, never the keys
    by_id = {r[0]: r for r in rows}
    assert by_id[hash_key(first)[:16]][2] == "expires never"
    assert re.fullmatch(r"expires \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", by_id[hash_key(second)[:16]][2])
    assert all(r[3] == "active" for r in rows)

    assert authorized(aws, first)
    keys(aws, capsys, "revoke", hash_key(first)[:16], "--tenant", "acme")
    assert not authorized(aws, first)
    assert authorized(aws, second) and authorized(aws, other)
    assert "revoked" in keys(aws, capsys, "list", "--tenant", "acme")
    # Another tenant cannot revoke it by id, and a key is revoked once.
    with pytest.raises(SystemExit):
        cli.main(["keys", "revoke", hash_key(other)[:16], "--tenant", "acme", "--table", aws.resources.table_name])
    with pytest.raises(SystemExit):
        cli.main(["keys", "revoke", hash_key(first)[:16], "--tenant", "acme", "--table", aws.resources.table_name])
    assert authorized(aws, other)


def test_an_expired_key_no_longer_authenticates(aws, capsys, monkeypatch):
    key = keys(aws, capsys, "create", "--tenant", "acme", "--expires", "1m").strip()
    assert authorized(aws, key)
    later = time.time() + 61
    monkeypatch.setattr(time, "time", lambda: later)
    assert not authorized(aws, key)


@pytest.mark.parametrize(("value", "seconds"), [("30d", 30 * 86400), ("12h", 12 * 3600), ("90m", 5400)])
def test_expiry_durations(value, seconds):
    assert parse_expiry(value, now=1000.0) == 1000 + seconds


@pytest.mark.parametrize("value", ["yesterday", "0d", "2001-01-01", "-5m"])
def test_expiries_that_are_not_future_durations_or_dates_are_refused(value):
    with pytest.raises(Exception, match="--expires"):
        parse_expiry(value)


WRITES = ("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item")


class KeyItemFails:
    """The table's client, recording every write; while `failing`, the write that removes a key's item fails:
    alone, or as its part of a transaction (made to fail in the emulator, which then cancels all of it)."""

    def __init__(self, client) -> None:
        self._client, self.writes, self.failing = client, [], False

    def __getattr__(self, name):
        found = getattr(self._client, name)
        if name not in WRITES:
            return found

        def write(**kwargs):
            self.writes.append((name, kwargs))
            if self.failing and name == "delete_item" and kwargs["Key"]["pk"]["S"].startswith("apikey#"):
                raise ClientError({"Error": {"Code": "InternalServerError", "Message": "boom"}}, name)
            if self.failing and name == "transact_write_items":
                for item in kwargs["TransactItems"]:
                    if "Delete" in item and item["Delete"]["Key"]["pk"]["S"].startswith("apikey#"):
                        item["Delete"]["ConditionExpression"] = "attribute_not_exists(pk)"  # it exists: fails
            return found(**kwargs)

        return write


def listed(store, key: str):
    [info] = [k for k in store.list_api_keys("acme") if k.key_id == hash_key(key)[:16]]
    return info


def test_a_revoke_is_one_transaction_that_changes_both_items(aws):
    client = KeyItemFails(aws.ddb)
    store = DynamoTaskStore(client, aws.resources.table_name)
    key = create_key(store, "acme")
    client.writes.clear()
    assert store.revoke_api_key("acme", hash_key(key)[:16], at=1234)
    assert [call for call, _ in client.writes] == ["transact_write_items"]
    assert len(client.writes[0][1]["TransactItems"]) == 2
    assert authenticate(store, key) is None and listed(store, key).revoked_at == 1234


def test_a_revoke_that_fails_on_the_key_item_changes_neither_and_can_be_done_again(aws):
    client = KeyItemFails(aws.ddb)
    store = DynamoTaskStore(client, aws.resources.table_name)
    key = create_key(store, "acme")
    client.failing = True
    with pytest.raises(ClientError):
        store.revoke_api_key("acme", hash_key(key)[:16], at=1234)
    assert authenticate(store, key) is not None
    assert listed(store, key).revoked_at is None, "listed as revoked while the key still works"
    client.failing = False
    assert store.revoke_api_key("acme", hash_key(key)[:16], at=5678)
    assert authenticate(store, key) is None and listed(store, key).revoked_at == 5678


@pytest.mark.parametrize("tenant", ["apikey", "keys", "usage"])
def test_a_tenant_cannot_be_named_as_a_partition_only_the_operator_writes(aws, tenant):
    """A tenant's event logs are partitions `<tenant>#<task id>`: under these names they would fall among the
    API keys or the usage partitions, where the functions behind the API may not write."""
    with pytest.raises(InvalidRequest, match="reserved"):
        create_key(aws.store, tenant)
    assert aws.ddb.scan(TableName=aws.resources.table_name)["Items"] == []

"""What the table keeps per tenant besides tasks: API keys (by hash, and listed per tenant) and the
submit-rate windows."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from asyncinfer.store.base import AlreadyExists, ApiKeyInfo, ApiKeyRecord
from asyncinfer.store.schema import TTL_ATTRIBUTE

# Partitions only the operator writes (asyncinfer keys): the item a key is looked up by (the hash of the key),
# and each tenant's list of its keys. The stack's functions behind the API are refused writes to them.
KEY_ITEM_PREFIX = "apikey#"
KEY_LIST_PREFIX = "keys#"


class TenantItems:
    """Part of DynamoTaskStore: its table client and name are the store's."""

    _ddb: Any
    _table: str

    def put_api_key(self, record: ApiKeyRecord) -> None:
        """The key's item (looked up by hash) and its line in the tenant's key list, together."""
        item = {
            "pk": {"S": KEY_ITEM_PREFIX + record.key_hash},
            "sk": {"S": "apikey"},
            "tenant": {"S": record.tenant},
            "created_at": {"N": str(record.created_at)},
        }
        if record.usage_key:
            item["usage_key"] = {"S": record.usage_key}
        listed = {**_key_list_key(record.tenant, record.key_id), "key_hash": {"S": record.key_hash}}
        listed["created_at"] = item["created_at"]
        if record.expires_at is not None:
            item[TTL_ATTRIBUTE] = listed[TTL_ATTRIBUTE] = {"N": str(record.expires_at)}
        new = "attribute_not_exists(pk)"
        try:
            self._ddb.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": self._table, "Item": item, "ConditionExpression": new}},
                    {"Put": {"TableName": self._table, "Item": listed, "ConditionExpression": new}},
                ]
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "TransactionCanceledException":
                raise AlreadyExists("api key") from exc
            raise

    def list_api_keys(self, tenant: str) -> list[ApiKeyInfo]:
        resp = self._ddb.query(
            TableName=self._table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": _key_list_key(tenant, "")["pk"]},
        )
        return [
            ApiKeyInfo(
                key_id=item["sk"]["S"].removeprefix("key#"),
                tenant=tenant,
                created_at=int(item["created_at"]["N"]),
                expires_at=int(item[TTL_ATTRIBUTE]["N"]) if TTL_ATTRIBUTE in item else None,
                revoked_at=int(item["revoked_at"]["N"]) if "revoked_at" in item else None,
            )
            for item in resp.get("Items", [])
        ]

    def revoke_api_key(self, tenant: str, key_id: str, at: int) -> bool:
        """Mark the key revoked in the tenant's list and delete the item it is looked up by, in one
        transaction: never listed as revoked while it still works. False if there is no such active key."""
        key = _key_list_key(tenant, key_id)
        listed = self._ddb.get_item(TableName=self._table, Key=key, ConsistentRead=True).get("Item")
        if listed is None or "revoked_at" in listed:
            return False
        key_hash = listed["key_hash"]
        revoke = {
            "TableName": self._table,
            "Key": key,
            "UpdateExpression": "SET revoked_at = :at",
            # The same key still unrevoked: a revoke racing this one, or a key removed meanwhile, wins.
            "ConditionExpression": "key_hash = :hash AND attribute_not_exists(revoked_at)",
            "ExpressionAttributeValues": {":at": {"N": str(at)}, ":hash": key_hash},
        }
        lookup = {
            "TableName": self._table,
            "Key": {"pk": {"S": KEY_ITEM_PREFIX + key_hash["S"]}, "sk": {"S": "apikey"}},
        }
        try:
            self._ddb.transact_write_items(TransactItems=[{"Update": revoke}, {"Delete": lookup}])
        except ClientError as exc:
            reasons = exc.response.get("CancellationReasons") or [{}]
            if reasons[0].get("Code") == "ConditionalCheckFailed":
                return False
            raise
        return True

    def get_api_key(self, key_hash: str) -> ApiKeyRecord | None:
        resp = self._ddb.get_item(
            TableName=self._table, Key={"pk": {"S": KEY_ITEM_PREFIX + key_hash}, "sk": {"S": "apikey"}}
        )
        item = resp.get("Item")
        if not item:
            return None
        return ApiKeyRecord(
            key_hash=key_hash,
            tenant=item["tenant"]["S"],
            created_at=int(item["created_at"]["N"]),
            usage_key=item.get("usage_key", {}).get("S"),
            expires_at=int(item[TTL_ATTRIBUTE]["N"]) if TTL_ATTRIBUTE in item else None,
        )

    def count_submit(self, tenant: str, window: int, limit: int, expires_at: int) -> bool:
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key={"pk": {"S": f"rate#{tenant}"}, "sk": {"S": f"w#{window}"}},
                UpdateExpression="ADD submits :one SET expires_at = :exp",
                ConditionExpression="attribute_not_exists(submits) OR submits < :limit",
                ExpressionAttributeValues={
                    ":one": {"N": "1"},
                    ":limit": {"N": str(limit)},
                    ":exp": {"N": str(expires_at)},
                },
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True


def _key_list_key(tenant: str, key_id: str) -> dict[str, dict[str, str]]:
    """A tenant's keys listed in a partition of their own (no scan finds them), one item per key."""
    return {"pk": {"S": KEY_LIST_PREFIX + tenant}, "sk": {"S": f"key#{key_id}"}}

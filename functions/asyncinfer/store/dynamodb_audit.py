"""The audit log's table: one item per administrative action, pk the tenant it concerns, sk `<ms, 13 digits>#<id>`
so that a tenant's entries since a time are one query. A table of its own, not the task table: no function's role
names it, so nothing that serves tenants can write (or erase) an entry; only the operator's credentials can."""

from __future__ import annotations

import json
from typing import Any

from asyncinfer.domain.audit import AuditEntry

AUDIT_KEY_SCHEMA = [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}]
AUDIT_ATTRIBUTES = [{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}]


def audit_table_name(prefix: str) -> str:
    """`asyncinfer-prod-audit` on AWS (prefix `asyncinfer-prod`), `<prefix>-audit` in an emulator."""
    return f"{prefix}-audit"


def _sk(at: int, entry_id: str = "") -> str:
    return f"{at:013d}#{entry_id}"


class DynamoAuditLog:
    def __init__(self, client: Any, table: str) -> None:
        self._ddb = client
        self._table = table

    def append(self, entry: AuditEntry) -> None:
        self._ddb.put_item(
            TableName=self._table,
            Item={
                "pk": {"S": entry.tenant},
                "sk": {"S": _sk(entry.at, entry.entry_id)},
                "at": {"N": str(entry.at)},
                "action": {"S": entry.action},
                "actor": {"S": entry.actor},
                "params": {"S": json.dumps(entry.params, sort_keys=True)},
            },
            # An entry is written once: a second write of its key would replace what was recorded.
            ConditionExpression="attribute_not_exists(pk)",
        )

    def entries(self, tenant: str | None = None, since: int = 0) -> list[AuditEntry]:
        """Oldest first: a tenant's since `since` (ms), or everyone's (a scan: admin actions are few)."""
        if tenant is not None:
            kwargs: dict[str, Any] = {
                "TableName": self._table,
                "KeyConditionExpression": "pk = :pk AND sk >= :since",
                "ExpressionAttributeValues": {":pk": {"S": tenant}, ":since": {"S": _sk(since)}},
            }
            operation = self._ddb.query
        else:
            kwargs = {
                "TableName": self._table,
                "FilterExpression": "#at >= :since",
                "ExpressionAttributeNames": {"#at": "at"},
                "ExpressionAttributeValues": {":since": {"N": str(since)}},
            }
            operation = self._ddb.scan
        found: list[AuditEntry] = []
        while True:
            page = operation(**kwargs)
            found.extend(_entry(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return sorted(found, key=lambda e: (e.at, e.entry_id))
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _entry(item: dict[str, Any]) -> AuditEntry:
    return AuditEntry(
        at=int(item["at"]["N"]),
        action=item["action"]["S"],
        tenant=item["pk"]["S"],
        actor=item["actor"]["S"],
        params=json.loads(item["params"]["S"]),
        entry_id=item["sk"]["S"].partition("#")[2],
    )

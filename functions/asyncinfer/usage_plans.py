"""API Gateway usage plans: one API key per tenant in the deployment's plan, so each tenant gets the
plan's throttle. Clients never see or send these keys: the authorizer passes the tenant's key to API
Gateway (API key source AUTHORIZER)."""

from __future__ import annotations

import secrets
from typing import Any


class ApiGatewayUsagePlan:
    def __init__(self, client: Any, plan_id: str) -> None:
        self._apigw = client
        self._plan = plan_id

    def key_for(self, tenant: str) -> str:
        name = f"asyncinfer-{self._plan}-{tenant}"
        found = self._apigw.get_api_keys(nameQuery=name, includeValues=True).get("items", [])
        for key in found:
            if key["name"] == name:
                return key["value"]
        key = self._apigw.create_api_key(
            name=name,
            description=f"asyncinfer tenant {tenant}: its throttle in usage plan {self._plan}",
            enabled=True,
            # API Gateway takes alphanumeric key values of 20 to 128 characters.
            value=secrets.token_hex(20),
        )
        self._apigw.create_usage_plan_key(usagePlanId=self._plan, keyId=key["id"], keyType="API_KEY")
        return key["value"]

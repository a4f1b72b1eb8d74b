"""How the API faces its users, each part optional in cdk.json (docs/operate/going-public.md): its own domain
name and a web application firewall. Validated with the rest of the configuration, before anything is built."""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# Lowercase: API Gateway's custom domain names are (CDK refuses uppercase ones).
HOSTNAME = r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$"
CERTIFICATE_ARN = r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]{36}$"


class CustomDomain(BaseModel):
    """The API at `https://{name}/`: with a certificate of the API's region (`certificate_arn`), or with a
    Route 53 public zone (`hosted_zone_id`, `hosted_zone_name`) in which the stack makes a DNS-validated
    certificate and the alias record, with no lookup at synth. TLS 1.2 at least, always."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=HOSTNAME, max_length=253)
    certificate_arn: str | None = Field(default=None, pattern=CERTIFICATE_ARN)
    hosted_zone_id: str | None = Field(default=None, pattern=r"^Z[A-Z0-9]{1,31}$")
    hosted_zone_name: str | None = Field(default=None, pattern=HOSTNAME, max_length=253)

    @model_validator(mode="after")
    def _one_way(self) -> CustomDomain:
        zone = (self.hosted_zone_id, self.hosted_zone_name)
        if self.certificate_arn is not None:
            if any(zone):
                raise ValueError("give certificate_arn, or hosted_zone_id and hosted_zone_name, not both")
        elif not all(zone):
            raise ValueError("give certificate_arn, or both hosted_zone_id and hosted_zone_name")
        elif self.name != self.hosted_zone_name and not self.name.endswith("." + self.hosted_zone_name):
            raise ValueError(f"{self.name} is not in the zone {self.hosted_zone_name}")
        return self

    @property
    def certificate_region(self) -> str | None:
        """The region of the certificate given (a regional endpoint needs one of its own region)."""
        return self.certificate_arn.split(":")[3] if self.certificate_arn else None


class Firewall(BaseModel):
    """A regional WAF web ACL on the API's stage: AWS's common and known-bad-inputs rule groups (`count` to watch
    what they would block, then `block`), a rate limit per client IP over 5 minutes, and an allow-list of CIDRs
    (given: every other address is refused). Its requests are logged to CloudWatch Logs for 3 months."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    managed_rules: Literal["count", "block"] = "count"
    # WAF's lowest limit is 10 a window (https://docs.aws.amazon.com/waf/latest/developerguide/
    # waf-rule-statement-type-rate-based-high-level-settings.html); None: no rate rule.
    rate_limit_per_5min: int | None = Field(default=2000, ge=10, le=2_000_000_000)
    allow_cidrs: list[str] = Field(default_factory=list, max_length=10_000)

    @field_validator("allow_cidrs")
    @classmethod
    def _networks(cls, cidrs: list[str]) -> list[str]:
        return [str(ipaddress.ip_network(cidr, strict=True)) for cidr in cidrs]

"""How the API faces its users, each part optional in cdk.json (docs/operate/going-public.md): its own domain
name, a web application firewall, and its endpoint (regional, or private to VPC endpoints). Validated with the
rest of the configuration, before anything is built."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

# Lowercase: API Gateway's custom domain names are (CDK refuses uppercase ones).
HOSTNAME = r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$"
CERTIFICATE_ARN = r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]{36}$"
VPC_ENDPOINT_ID = r"^vpce-[0-9a-f]{8,17}$"


def _once_each(ids: list[str]) -> list[str]:
    return list(dict.fromkeys(ids))


Endpoint = Literal["regional", "private"]
# In the order given, each once; 20 is a bound of ours (a stack output and a policy entry each).
VpcEndpointIds = Annotated[
    list[Annotated[str, StringConstraints(pattern=VPC_ENDPOINT_ID)]], Field(max_length=20), AfterValidator(_once_each)
]


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


def check_endpoint(endpoint: Endpoint, vpc_endpoint_ids: list[str], custom_domain: CustomDomain | None) -> None:
    """A private API answers only through the interface VPC endpoints for execute-api named here, and its
    resource policy refuses every other source
    (https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-private-apis.html). Its own domain
    name would be a private one (API Gateway's DomainNameV2 and a DomainNameAccessAssociation per endpoint),
    which the stack does not build: it builds a custom domain for the regional endpoint only."""
    if endpoint == "private":
        if not vpc_endpoint_ids:
            raise ValueError(
                'endpoint "private" needs vpc_endpoint_ids: the interface VPC endpoints (com.amazonaws.<region>.'
                "execute-api) the API answers through"
            )
        if custom_domain is not None:
            raise ValueError(
                "endpoint \"private\" with custom_domain is not built: a private API's own name needs API Gateway's "
                "DomainNameV2 and a DomainNameAccessAssociation per VPC endpoint; drop custom_domain (clients use "
                "the execute-api URLs the stack outputs) or keep the endpoint regional"
            )
    elif vpc_endpoint_ids:
        raise ValueError('vpc_endpoint_ids are only for endpoint "private"; the regional endpoint takes none')

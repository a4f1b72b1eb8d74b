"""The API's own domain name (cdk.json `custom_domain`): a regional API Gateway domain with TLS 1.2 at least,
mapped to the stage at its root, with the certificate given or made and DNS-validated in the Route 53 zone given,
and then the zone's alias record. No lookups: the zone is named by its id and name.

Pages: https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-regional-api-custom-domain-create.html
(a regional domain needs a certificate of its own region), and
https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-custom-domain-tls-version.html (TLS_1_2)."""

from __future__ import annotations

from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_route53_targets as targets
from constructs import Construct

from infra.public_api import CustomDomain


class ApiDomain(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, api: apigw.RestApi, config: CustomDomain) -> None:
        super().__init__(scope, construct_id)
        zone = None
        if config.certificate_arn is not None:
            certificate = acm.Certificate.from_certificate_arn(self, "Certificate", config.certificate_arn)
        else:
            assert config.hosted_zone_id is not None and config.hosted_zone_name is not None
            zone = route53.HostedZone.from_hosted_zone_attributes(
                self, "Zone", hosted_zone_id=config.hosted_zone_id, zone_name=config.hosted_zone_name
            )
            certificate = acm.Certificate(
                self, "Certificate", domain_name=config.name, validation=acm.CertificateValidation.from_dns(zone)
            )
        self.domain = apigw.DomainName(
            self,
            "DomainName",
            domain_name=config.name,
            certificate=certificate,
            endpoint_type=apigw.EndpointType.REGIONAL,
            security_policy=apigw.SecurityPolicy.TLS_1_2,
        )
        # At the root: the clients' base URL is https://{name}/, as the providers' SDKs expect theirs.
        self.domain.add_base_path_mapping(api, stage=api.deployment_stage)
        if zone is not None:
            route53.ARecord(
                self,
                "Alias",
                zone=zone,
                record_name=config.name,
                target=route53.RecordTarget.from_alias(targets.ApiGatewayDomain(self.domain)),
            )
        self.url = f"https://{config.name}/"

"""Every option of docs/operate/going-public.md, alone and together, synthesizes with cdk-nag clean (any finding
fails the synth: tests/infra/conftest.py) and passes cfn-lint, as the default stack does (test_stack.py)."""

import pytest

from tests.infra.conftest import cfn_lint, synthesize

ZONE = {"name": "api.example.com", "hosted_zone_id": "Z0123456789ABCDEFGHIJ", "hosted_zone_name": "example.com"}
CERTIFICATE = {
    "name": "api.example.com",
    "certificate_arn": "arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012",
}
WAF = {"enabled": True, "managed_rules": "block", "allow_cidrs": ["203.0.113.0/24", "2001:db8::/32"]}
PRIVATE = {"endpoint": "private", "vpc_endpoint_ids": ["vpce-0123456789abcdef0", "vpce-0fedcba9876543210"]}
ORIGINS = ["https://app.example.com", "http://127.0.0.1:5173"]

OPTIONS = {
    "domain, its zone": {"custom_domain": ZONE},
    "domain, a certificate": {"custom_domain": CERTIFICATE},
    "waf": {"waf": WAF},
    "cors": {"cors_origins": ORIGINS},
    "private": PRIVATE,
    "public, all of it": {"custom_domain": ZONE, "waf": WAF, "cors_origins": ORIGINS},
    "private, all it takes": {**PRIVATE, "waf": WAF, "cors_origins": ORIGINS[:1]},
}


@pytest.mark.parametrize("options", OPTIONS.values(), ids=OPTIONS.keys())
def test_each_option_and_their_combinations_pass_cfn_lint(options, tmp_path):
    _, template = synthesize(**options)
    result = cfn_lint(template, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr

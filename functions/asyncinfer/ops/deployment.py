"""Facts about a deployment that both the CDK stack and `asyncinfer preflight` rely on."""

from __future__ import annotations

# Lambda Web Adapter's public layers (github.com/awslabs/aws-lambda-web-adapter, README "Lambda functions
# packaged as Zip package"): published by this account in the commercial regions, one per architecture.
WEB_ADAPTER_ACCOUNT = "753240598075"
WEB_ADAPTER_LAYERS = {"arm64": "LambdaAdapterLayerArm64", "x86_64": "LambdaAdapterLayerX86"}
# The CDK's default bootstrap: its stack, and the SSM parameter holding the bootstrap version.
BOOTSTRAP_STACK = "CDKToolkit"
BOOTSTRAP_VERSION_PARAMETER = "/cdk-bootstrap/hnb659fds/version"
# Current CDK templates need at least this bootstrap version (cdk.out's manifest names it per stack).
MIN_BOOTSTRAP_VERSION = 6


def web_adapter_layer_arn(region: str, architecture: str, version: int, override: str | None = None) -> str:
    """The layer the streaming function runs under: the configured ARN if any, else the public one."""
    if override:
        return override
    return f"arn:aws:lambda:{region}:{WEB_ADAPTER_ACCOUNT}:layer:{WEB_ADAPTER_LAYERS[architecture]}:{version}"

"""CDK app: `npx cdk synth` / `cdk deploy` (see docs/operate/deploy.md)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "functions")]

from aws_cdk import App, Environment, Validations  # noqa: E402
from cdk_nag import AwsSolutionsChecks  # noqa: E402

from infra.config import InfraConfig  # noqa: E402
from infra.stack import AsyncInferStack  # noqa: E402


def build(app: App) -> AsyncInferStack:
    config = InfraConfig.from_context(app.node.try_get_context("asyncinfer"))
    stack = AsyncInferStack(
        app,
        f"asyncinfer-{config.stage}",
        config=config,
        env=Environment(account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=os.environ.get("CDK_DEFAULT_REGION")),
    )
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return stack


if __name__ == "__main__":
    app = App()
    build(app)
    app.synth()

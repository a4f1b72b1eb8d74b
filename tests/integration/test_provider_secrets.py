"""Provider credentials by reference, read from Secrets Manager (moto) through Powertools."""

import json

import boto3
import pytest

from asyncinfer.domain.catalog import SecretRef
from asyncinfer.providers.base import ProviderError
from asyncinfer.providers.secrets import resolve

pytestmark = pytest.mark.integration


@pytest.fixture
def secret(aws):
    from aws_lambda_powertools.utilities import parameters

    parameters.clear_caches()
    client = boto3.client("secretsmanager")
    arn = client.create_secret(Name="asyncinfer/compat", SecretString=json.dumps({"api_key": "sk-from-secret"}))["ARN"]
    plain = client.create_secret(Name="asyncinfer/plain", SecretString="sk-plain")["ARN"]
    yield arn, plain
    parameters.clear_caches()


def test_a_json_key_of_a_secret_and_a_whole_secret(secret, monkeypatch):
    arn, plain = secret
    monkeypatch.delenv("COMPAT_KEY", raising=False)
    assert resolve(SecretRef(env="COMPAT_KEY", secret_arn=arn, json_key="api_key")) == "sk-from-secret"
    assert resolve(SecretRef(secret_arn=plain)) == "sk-plain"
    assert resolve(SecretRef()) is None


def test_an_environment_variable_overrides_the_secret(secret, monkeypatch):
    arn, _ = secret
    monkeypatch.setenv("COMPAT_KEY", "sk-local")
    assert resolve(SecretRef(env="COMPAT_KEY", secret_arn=arn, json_key="api_key")) == "sk-local"


def test_a_missing_secret_or_key_fails_the_task_for_good(secret):
    arn, _ = secret
    missing = arn.rsplit(":", 1)[0] + ":asyncinfer/none-XyZ123"
    with pytest.raises(ProviderError) as err:
        resolve(SecretRef(secret_arn=missing))
    assert not err.value.retryable and err.value.code == "provider_misconfigured"
    with pytest.raises(ProviderError) as err:
        resolve(SecretRef(secret_arn=arn, json_key="nope"))
    assert not err.value.retryable

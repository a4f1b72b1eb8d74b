"""The webhook secret's compare-and-set in DynamoDB (moto): a rotation that lost a race goes after the winner."""

import pytest

from asyncinfer.domain.model import now_ms
from asyncinfer.handlers import api_webhooks
from asyncinfer.store.base import SecretsChanged, WebhookSecrets

pytestmark = pytest.mark.integration


def test_a_rotation_racing_another_goes_after_it_and_keeps_the_secret_that_won(aws, monkeypatch):
    service = api_webhooks.webhooks()
    first = service.secret("acme").current
    won = WebhookSecrets(current="whsec_" + "A" * 32, previous=first, previous_expires_at=now_ms() + 60_000)
    service.store.replace_secrets("acme", won, expected=first)
    with pytest.raises(SecretsChanged) as lost:
        service.store.replace_secrets("acme", WebhookSecrets(current="whsec_" + "B" * 32), expected=first)
    assert lost.value.current == won
    # The service read `first` before the other rotation landed: it retries on what it was told is there.
    real_get = service.store.get_secrets
    monkeypatch.setattr(service.store, "get_secrets", lambda tenant: WebhookSecrets(current=first))
    rotated = service.rotate_secret("acme")
    monkeypatch.setattr(service.store, "get_secrets", real_get)
    assert rotated.previous == won.current
    assert service.store.get_secrets("acme") == rotated

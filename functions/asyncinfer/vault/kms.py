"""Data keys from AWS KMS: GenerateDataKey to seal, Decrypt to open, both bound to an encryption context.

https://docs.aws.amazon.com/kms/latest/APIReference/API_GenerateDataKey.html
https://docs.aws.amazon.com/kms/latest/developerguide/encrypt_context.html"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from asyncinfer.domain.sealing import SealingFailed

# A wrapped key that is not for this context (or this key) is refused with one of these; anything else
# (throttling, a network error) is an outage and propagates as one.
_NOT_OURS = {"InvalidCiphertextException", "IncorrectKeyException"}


class KmsDataKeys:
    def __init__(self, client: Any, key_id: str) -> None:
        self.client = client
        self.key_id = key_id

    def generate(self, context: Mapping[str, str]) -> tuple[bytes, bytes]:
        answer = self.client.generate_data_key(KeyId=self.key_id, KeySpec="AES_256", EncryptionContext=dict(context))
        return answer["Plaintext"], answer["CiphertextBlob"]

    def unwrap(self, wrapped: bytes, context: Mapping[str, str]) -> bytes:
        try:
            answer = self.client.decrypt(CiphertextBlob=wrapped, KeyId=self.key_id, EncryptionContext=dict(context))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _NOT_OURS:
                raise SealingFailed("a sealed value was not sealed for this tenant or task") from None
            raise
        return answer["Plaintext"]

import pytest

from asyncinfer.tasks.keys import bearer_token, hash_key


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer  abc ", "abc"),
        ("Basic abc", None),
        ("Bearer", None),
        ("", None),
        (None, None),
        ("ai_bare_key", "ai_bare_key"),
        ("devkey", "devkey"),
        ("ai_a ai_b", None),
    ],
)
def test_bearer_token(header, token):
    assert bearer_token(header) == token


def test_hash_is_sha256_hex():
    assert hash_key("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

"""The registry's page tokens (`next` of GET /clients): opaque to clients, and checked before DynamoDB sees them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from okta_m2m.clients._registry import decode_page_token, encode_page_token
from okta_m2m.errors import InvalidRequestError

KEYS = st.fixed_dictionaries(
    {
        "pk": st.text(min_size=1, max_size=40).map(lambda tail: f"client#{tail}"),
        "kind": st.just("client"),
        "created_at": st.text(max_size=30),
    }
)


@given(KEYS)
def test_a_token_given_out_comes_back_as_the_same_key(key):
    dynamo = {name: {"S": value} for name, value in key.items()}

    token = encode_page_token(dynamo)

    assert decode_page_token(token) == dynamo
    assert token.replace("-", "").replace("_", "").isalnum()  # URL-safe, unpadded


@given(st.text(max_size=200))
def test_anything_else_is_a_400_never_another_error(text):
    try:
        decoded = decode_page_token(text)
    except InvalidRequestError as exc:
        assert str(exc) == "next is not a page token this API gave out"
    else:  # only what encode_page_token could have made
        assert set(decoded) == {"pk", "kind", "created_at"}
        assert decoded["kind"] == {"S": "client"}


@pytest.mark.parametrize(
    "key",
    [
        {"pk": "label#orders", "kind": "client", "created_at": "x"},  # another item kind
        {"pk": "client#x", "kind": "pending", "created_at": "x"},  # another index partition
        {"pk": "client#x", "kind": "client"},  # a key of another shape
        {"pk": "client#x", "kind": "client", "created_at": "x", "extra": "y"},
    ],
)
def test_a_well_formed_token_for_another_key_is_refused(key):
    token = encode_page_token({name: {"S": value} for name, value in key.items()})

    with pytest.raises(InvalidRequestError):
        decode_page_token(token)

"""Project Wycheproof JOSE vectors against the signature layer (see tests/vectors/wycheproof/README.md)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from okta_m2m.errors import KeySetUnavailableError, TokenError
from okta_m2m.tokens._jwks import parse_key_set
from okta_m2m.tokens._jws import parse_compact, verify_signature, verify_with_jwk

# In the repository, so every clone runs them. A missing file is a collection error, never a skip.
VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "wycheproof"
SHA256 = {
    "json_web_signature_test.json": "8e687a06fe8359f4ec51480f1a9f73c8faebd6f4c01b818b843b44eee54fd5d9",
    "json_web_key_test.json": "be983255bce26406f97020ec5458b33930a90d5f868e604fcd569c300aba2862",
}


def _load(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((VECTORS / name).read_bytes())
    return document


def _cases(name: str) -> list[Any]:
    groups = _load(name)["testGroups"]
    return [
        pytest.param(group, test, id=f"tc{test['tcId']}-{test['comment']}")
        for group in groups
        for test in group["tests"]
    ]


def _expect_valid(group: dict[str, Any], test: dict[str, Any]) -> bool:
    # We accept RS256 only: in RS256 groups each vector keeps its own verdict, everything else must be refused.
    public = group.get("public") or {}
    return public.get("kty") == "RSA" and public.get("alg") == "RS256" and test["result"] == "valid"


@pytest.mark.parametrize("name", sorted(SHA256))
def test_vector_file_is_the_published_one(name: str):
    assert hashlib.sha256((VECTORS / name).read_bytes()).hexdigest() == SHA256[name]


def test_vectors_are_all_collected():
    assert _load("json_web_signature_test.json")["numberOfTests"] == len(_cases("json_web_signature_test.json")) == 401
    assert _load("json_web_key_test.json")["numberOfTests"] == len(_cases("json_web_key_test.json")) == 26


@pytest.mark.parametrize(("group", "test"), _cases("json_web_signature_test.json"))
def test_signature_vector(group: dict[str, Any], test: dict[str, Any]):
    jwk = group.get("public") or group.get("private") or {}
    jws = test["jws"]
    if _expect_valid(group, test):
        assert verify_with_jwk(jws, jwk).signing_input
    else:
        with pytest.raises(TokenError):
            if not isinstance(jws, str):
                raise TokenError("JSON serialization is not accepted")
            verify_with_jwk(jws, jwk)


@pytest.mark.parametrize(("group", "test"), _cases("json_web_key_test.json"))
def test_key_set_vector(group: dict[str, Any], test: dict[str, Any]):
    source = group.get("public") or group.get("private") or {}
    key_set = source if "keys" in source else {"keys": [source]}

    def verify() -> None:
        jws = parse_compact(test["jws"])
        keys = parse_key_set(key_set)
        key = keys.get(jws.header.get("kid", ""))
        if key is None:
            raise TokenError("unknown kid")
        verify_signature(jws, key)

    if _expect_valid({"public": key_set["keys"][0]}, test):
        verify()
    else:
        with pytest.raises((TokenError, KeySetUnavailableError)):
            verify()

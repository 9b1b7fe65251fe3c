"""Project Wycheproof JOSE vectors against the signature layers, the access token's (RS256) and the DPoP proof's
(ES256 and RS256); see tests/vectors/wycheproof/README.md."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from okta_m2m.errors import KeySetUnavailableError, TokenError
from okta_m2m.tokens._dpop import ALGORITHMS, ProofKey, ec_key_from_jwk
from okta_m2m.tokens._dpop import verify_signature as verify_proof_signature
from okta_m2m.tokens._jwks import parse_key_set
from okta_m2m.tokens._jws import (
    KeyRejectedError,
    decode_segment,
    json_object,
    parse_compact,
    rsa_key_from_jwk,
    split_compact,
    verify_signature,
    verify_with_jwk,
)

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


# --- the DPoP proof's signature layer (okta_m2m.tokens._dpop): ES256 and RS256 -----------------------------------


def _expect_valid_proof_signature(group: dict[str, Any], test: dict[str, Any]) -> bool:
    # Proofs are ES256 (P-256) or RS256: in those groups each vector keeps its own verdict, all else is refused.
    public = group.get("public") or {}
    kinds = {("EC", "ES256"), ("RSA", "RS256")}
    return (public.get("kty"), public.get("alg")) in kinds and test["result"] == "valid"


def _verify_as_proof_signature(jws: object, jwk: dict[str, Any]) -> None:
    """What verify_proof does before the claims: split, header alg, the key (as a proof's jwk), the signature."""
    if not isinstance(jws, str):
        raise TokenError("JSON serialization is not accepted")
    header_b64, payload_b64, signature_b64 = split_compact(jws)
    alg = json_object(decode_segment(header_b64)).get("alg")
    if alg not in ALGORITHMS:
        raise TokenError("proof algorithm not allowed")
    try:
        key = ec_key_from_jwk(jwk) if alg == "ES256" else rsa_key_from_jwk(jwk)
    except KeyRejectedError as exc:
        raise TokenError(str(exc)) from None
    verify_proof_signature(ProofKey(alg, key, ""), header_b64 + b"." + payload_b64, decode_segment(signature_b64))


def test_the_es256_vectors_cover_the_edge_cases_of_r_and_s():
    comments = {
        test["comment"] for group in _load("json_web_signature_test.json")["testGroups"] for test in group["tests"]
    }
    assert {"rIsZero_sIsZero", "rIsN_sIsN", "RisTooBig", "SisTooBig", "rejectsAttackerProvidedEmbeddedJwk"} <= comments


@pytest.mark.parametrize(("group", "test"), _cases("json_web_signature_test.json"))
def test_proof_signature_vector(group: dict[str, Any], test: dict[str, Any]):
    jwk = group.get("public") or group.get("private") or {}
    if _expect_valid_proof_signature(group, test):
        _verify_as_proof_signature(test["jws"], jwk)
    else:
        with pytest.raises(TokenError):
            _verify_as_proof_signature(test["jws"], jwk)

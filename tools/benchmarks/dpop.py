"""`make bench`, the DPoP rows: the authorizer's DPoP path against minimal cryptography baselines, as ratios.

As in benchmarks.authorizer, every figure is a ratio to baselines measured in the same run, rounds interleaved,
medians kept. Baselines: a minimal ES256 proof verify (split, base64, json, ECDSA verify, htm/htu/ath/iat checks,
no strictness) and a minimal RS256 token verify (benchmarks.authorizer.minimal_verify).

Targets (issue 21): a request with a token already verified (the usual case: one token, a new proof each call)
costs at most 2x the minimal proof verify, the replay store's round trip apart (here the store is in memory; the
round trip to DynamoDB, moto's server on loopback here, is its own row, as information); the REQUEST authorizer's
cold start (fresh process to first Allow, keys and store on loopback, the store's first PutItem included) within 1.1x
of the TOKEN authorizer's (and, as information, the same less the time the REQUEST child spent on the store, which
it measures itself). A request with a new token each time is information, against the ES256 + RS256 floor.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import boto3
import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.hashes import SHA256
from moto.server import ThreadedMotoServer

from benchmarks.authorizer import (
    AUDIENCE,
    ROOT,
    Built,
    Child,
    KeyServer,
    Row,
    b64url,
    cold_run,
    cold_seconds,
    environment,
    interleaved,
    minimal_verify,
    quiet_stdout,
    runtime_python,
)

CALLS = 2000  # warm calls per measure and round
ROUNDS = 5
CHUNK = 50
COLD_RUNS = 9
KNOWN_TOKEN_TARGET = 2.0
COLD_TARGET = 1.1
STORE_CALLS = 200
API_ID, STAGE = "abcdef1234", "v1"
ARN = f"arn:aws:execute-api:us-east-1:123456789012:{API_ID}/{STAGE}/GET/hello/dpop"
URL = f"https://{API_ID}.execute-api.us-east-1.amazonaws.com/{STAGE}/hello/dpop"
ROUTES = "GET /hello hello\nDPoP GET /hello/dpop hello\n"
AWS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_REGION": "us-east-1"}
BOTO_CREDENTIALS = {
    "aws_access_key_id": AWS["AWS_ACCESS_KEY_ID"],
    "aws_secret_access_key": AWS["AWS_SECRET_ACCESS_KEY"],
}
CODE_PATH = [str(ROOT / "functions" / "authorizer"), str(ROOT / "layers" / "core")]

# The cold child: the authorizer's app, one event (TOKEN or REQUEST, as JSON in argv[1]), its first decision (timed
# to that line, as benchmarks.authorizer times its cold starts), then, untimed, the seconds its calls to the replay
# store took from sending to answer (the connection included): the store's own share of a REQUEST cold start.
COLD = """
import json, sys, time
from app import lambda_handler
from okta_m2m.tokens._fetch import KeepAlive
class Context:
    function_name = "authorizer"; memory_limit_in_mb = 512; aws_request_id = "bench"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:authorizer"
store_seconds, _post = 0.0, KeepAlive.post
def _timed_post(self, *args, **kwargs):
    global store_seconds
    started = time.perf_counter()
    try:
        return _post(self, *args, **kwargs)
    finally:
        store_seconds += time.perf_counter() - started
KeepAlive.post = _timed_post
print(lambda_handler(json.loads(sys.argv[1]), Context())["policyDocument"]["Statement"][0]["Effect"], flush=True)
print("store_seconds", store_seconds)
"""


def _pad(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def minimal_proof_verify(proof: str, token: str) -> None:
    """The floor of a proof check: split, decode, import the header's P-256 key, verify, and the claims a proof must
    match (htm, htu, ath, iat). No thumbprint, no caches, no strictness."""
    h, p, s = proof.split(".")
    header, claims, signature = json.loads(_pad(h)), json.loads(_pad(p)), _pad(s)
    jwk = header["jwk"]
    key = ec.EllipticCurvePublicNumbers(
        int.from_bytes(_pad(jwk["x"]), "big"), int.from_bytes(_pad(jwk["y"]), "big"), ec.SECP256R1()
    ).public_key()
    der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
    key.verify(der, f"{h}.{p}".encode(), ec.ECDSA(SHA256()))
    ath = b64url(hashlib.sha256(token.encode()).digest())
    if claims["htm"] != "GET" or claims["htu"] != URL or claims["ath"] != ath or claims["iat"] < time.time() - 90:
        raise ValueError("invalid")


class MemoryStore:
    """The replay store's protocol over a set: the authorizer's warm cost without the store's round trip."""

    def __init__(self) -> None:
        self.keys: set[str] = set()

    def claim(self, key: str, until: int, now: float) -> bool:
        if key in self.keys:
            return False
        self.keys.add(key)
        return True


class Client:
    """A DPoP client: its P-256 key and proofs signed ahead of the measure (signing is the client's cost)."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        numbers = self.key.public_key().public_numbers()
        self.jwk = {"kty": "EC", "crv": "P-256", "x": b64url(numbers.x.to_bytes(32, "big"))}
        self.jwk["y"] = b64url(numbers.y.to_bytes(32, "big"))
        text = json.dumps({m: self.jwk[m] for m in ("crv", "kty", "x", "y")}, separators=(",", ":"), sort_keys=True)
        self.jkt = b64url(hashlib.sha256(text.encode()).digest())

    def proof(self, token: str) -> str:
        claims = {"jti": str(uuid.uuid4()), "htm": "GET", "htu": URL, "iat": int(time.time())}
        claims["ath"] = b64url(hashlib.sha256(token.encode()).digest())
        return jwt.encode(claims, self.key, algorithm="ES256", headers={"typ": "dpop+jwt", "jwk": self.jwk})


def request_event(token: str, proof: str) -> dict[str, Any]:
    """API Gateway's REQUEST authorizer event for GET /hello/dpop."""
    headers = {"Authorization": f"DPoP {token}", "DPoP": proof, "Host": f"{API_ID}.execute-api.us-east-1.amazonaws.com"}
    return {
        "type": "REQUEST",
        "methodArn": ARN,
        "resource": "/hello/dpop",
        "path": "/hello/dpop",
        "httpMethod": "GET",
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "requestContext": {"stage": STAGE, "httpMethod": "GET", "resourcePath": "/hello/dpop"},
    }


class Bench:
    """One issuer's key and keys server, one DPoP client, and tokens bound to its key."""

    def __init__(self) -> None:
        self.signing = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        numbers = self.signing.public_key().public_numbers()
        jwk = {"kty": "RSA", "alg": "RS256", "use": "sig", "kid": "bench-dpop", "e": b64url(numbers.e.to_bytes(3))}
        jwk["n"] = b64url(numbers.n.to_bytes(256, "big"))
        self.keys = KeyServer({"keys": [jwk]})
        self.client = Client()

    def token(self, bound: bool = True) -> str:
        """An access token of the issuer, bound to the client's key unless `bound` is False."""
        now = int(time.time())
        claims = {"ver": 1, "jti": f"AT.{uuid.uuid4().hex}", "iss": self.keys.issuer, "aud": AUDIENCE, "iat": now}
        claims |= {"exp": now + 3600, "cid": "0oabenchdpop0000001", "scp": ["hello"], "sub": "0oabenchdpop0000001"}
        if bound:
            claims["cnf"] = {"jkt": self.client.jkt}
        return jwt.encode(claims, self.signing, algorithm="RS256", headers={"kid": "bench-dpop"})

    def env(self, store_endpoint: str = "http://127.0.0.1:9") -> dict[str, str]:
        return {
            **os.environ,
            **AWS,
            "ISSUER": self.keys.issuer,
            "AUDIENCE": AUDIENCE,
            "ROUTE_SCOPES": ROUTES,
            "POWERTOOLS_SERVICE_NAME": "authorizer",
            "DPOP_REPLAY_TABLE": "replay",
            "AWS_ENDPOINT_URL_DYNAMODB": store_endpoint,
            "PYTHONPATH": os.pathsep.join(CODE_PATH),
        }


def our_authorizer(bench: Bench) -> Any:
    """A TokenAuthorizer as the app builds it, with the replay store in memory."""
    sys.path[:0] = [p for p in CODE_PATH if p not in sys.path]
    from okta_m2m.tokens import KeyCache, ProofReplay, TokenAuthorizer, authorizer_settings, dpop_settings

    with environment(bench.env()):
        settings, dpop = authorizer_settings(), dpop_settings()
    keys = {i.issuer: KeyCache(i.issuer, i.jwks_uri) for i in settings.issuers}
    return TokenAuthorizer(settings, keys, dpop=dpop, replay=ProofReplay(MemoryStore()))


def warm_rows(bench: Bench) -> list[Row]:
    authorizer = our_authorizer(bench)
    public = {bench.keys.issuer: bench.signing.public_key()}
    known = bench.token()
    authorizer.authorize_request(request_event(known, bench.client.proof(known)))  # verified: now a known token
    results: dict[str, list[float]] = {"known": [], "new": [], "es256": [], "es256+rs256": []}
    for _ in range(ROUNDS):
        known_events = [request_event(known, bench.client.proof(known)) for _ in range(CALLS)]
        fresh_tokens = [bench.token() for _ in range(CALLS)]
        new_events = [request_event(t, bench.client.proof(t)) for t in fresh_tokens]
        pairs = [(e["headers"]["DPoP"], e["headers"]["Authorization"][5:]) for e in new_events]

        def both(pair: tuple[str, str]) -> None:
            minimal_proof_verify(*pair)
            minimal_verify(pair[1], public)

        runs: Sequence[tuple[Callable[[Any], Any], list[Any]]] = [
            (authorizer.authorize_request, known_events),
            (authorizer.authorize_request, new_events),
            (lambda pair: minimal_proof_verify(*pair), pairs),
            (both, pairs),
        ]
        with quiet_stdout():
            totals = interleaved(runs, CHUNK)
        chunks = len(range(0, CALLS, CHUNK))  # interleaved() adds up each chunk's time per call
        for name, total in zip(results, totals, strict=True):
            results[name].append(total / chunks)
    median = {name: statistics.median(values) for name, values in results.items()}
    return [
        Row("DPoP warm, token known, new proof (store apart) / minimal ES256 verify", median["known"] / median["es256"],
            KNOWN_TOKEN_TARGET),
        Row("DPoP warm, new token and proof / minimal ES256 + RS256 verify", median["new"] / median["es256+rs256"]),
        Row("minimal ES256 proof verify, us per call", median["es256"] * 1e6),
    ]  # fmt: skip


def store_row(moto_endpoint: str) -> Row:
    """The replay store's round trip: one SigV4-signed conditional PutItem to moto's DynamoDB on loopback."""
    from okta_m2m.tokens import Credentials, DynamoDbReplayStore

    dynamodb = boto3.client(  # type: ignore[call-overload]
        "dynamodb", endpoint_url=moto_endpoint, region_name="us-east-1", **BOTO_CREDENTIALS
    )
    dynamodb.create_table(
        TableName="replay", AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST",
    )  # fmt: skip
    store = DynamoDbReplayStore("replay", "us-east-1", moto_endpoint, Credentials("bench", "bench"))
    times = []
    for i in range(STORE_CALLS):
        started = time.perf_counter()
        store.claim(f"bench-{i}", int(time.time()) + 90, time.time())
        times.append(time.perf_counter() - started)
    return Row("replay store round trip (moto on loopback), ms", statistics.median(times) * 1000)


def cold_rows(bench: Bench, moto_endpoint: str) -> list[Row]:
    """Fresh process to first Allow: the TOKEN event of a bearer route, and the REQUEST event of a DPoP route (its
    first proof checked and claimed in moto's table), runs interleaved. Both run the layer and the function as
    `sam build` ships them (bytecode included) on a Python with an empty site-packages, as
    benchmarks.authorizer's cold rows do: what a Lambda cold start loads, nothing it would not."""
    bearer_token = bench.token(bound=False)
    token_event = {"type": "TOKEN", "authorizationToken": f"Bearer {bearer_token}", "methodArn": ARN}
    with tempfile.TemporaryDirectory(prefix="bench-dpop-") as scratch:
        built, python = Built.create(Path(scratch)), runtime_python(Path(scratch) / "runtime")
        env = bench.env(moto_endpoint) | {"PYTHONPATH": os.pathsep.join(built.shipped)}
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # any value would leave the children compiling from source
        token_times, request_times, store_times = [], [], []
        for _ in range(COLD_RUNS):
            token_times.append(cold_seconds(Child(COLD, [json.dumps(token_event)], env, python=python)))
            dpop_token = bench.token()
            event = request_event(dpop_token, bench.client.proof(dpop_token))
            seconds, after = cold_run(Child(COLD, [json.dumps(event)], env, python=python))
            request_times.append(seconds)
            store_times.append(float(after.split()[-1]))
    token, request = statistics.median(token_times), statistics.median(request_times)
    apart = statistics.median(r - s for r, s in zip(request_times, store_times, strict=True))
    return [
        Row("cold start, REQUEST (DPoP) / TOKEN authorizer", request / token, COLD_TARGET),
        Row("cold start, REQUEST (DPoP) less its store round trip / TOKEN", apart / token),
        Row("cold start, TOKEN authorizer, ms", token * 1000),
        Row("cold start, REQUEST (DPoP) authorizer, ms", request * 1000),
        Row("cold start, REQUEST: its store round trip (connect, PutItem), ms", statistics.median(store_times) * 1000),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the DPoP measures and print them; exit 1 if a target is missed."""
    started = time.perf_counter()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's server logs every request otherwise
    bench = Bench()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    try:
        with environment({**os.environ, **AWS}):
            rows = [*warm_rows(bench), store_row(endpoint)]
        rows += cold_rows(bench, endpoint)
    finally:
        moto.stop()
    print(f"{'DPoP measure':<66} {'value':>8} {'target':>8}")
    for row in rows:
        print(row.line())
    print("note: warm DPoP rows use a replay store in memory; its round trip to DynamoDB is the store row")
    print("note: cold rows: fresh interpreter to first Allow, keys on loopback http, moto's DynamoDB on loopback")
    print(f"dpop bench ran in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return 1 if any(row.missed for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())

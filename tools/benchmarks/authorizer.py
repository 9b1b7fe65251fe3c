"""`make bench`: the authorizer against a minimal cryptography RS256 verify of the same tokens, as ratios.

Every figure is a ratio to a baseline measured in the same run, rounds interleaved, medians kept: this machine is
shared and noisy, so absolute times mean little. Targets (issue 2): warm distinct tokens <= 3x the minimal verify;
the same token again <= 0.2x; cold start (fresh process to first Allow, key fetch included) <= 2x a minimal
authorizer that fetches keys with urllib and verifies with cryptography; at most 1 key fetch in 10,000 warm calls.
"""

from __future__ import annotations

import base64
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.hashes import SHA256

ROOT = Path(__file__).resolve().parents[2]
ISSUER_PATH = "/oauth2/default"
AUDIENCE = "api://default"
ARN = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/v1/GET/hello"
DISTINCT = 2000
WARM_CALLS = 10000
ROUNDS = 5
COLD_RUNS = 9

MINIMAL_COLD = """
import base64, json, sys, time, urllib.request
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicNumbers
from cryptography.hazmat.primitives.hashes import SHA256
issuer, token = sys.argv[1], sys.argv[2]
d = lambda s: base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
jwk = json.load(urllib.request.urlopen(issuer + "/v1/keys", timeout=3))["keys"][0]
key = RSAPublicNumbers(int.from_bytes(d(jwk["e"]), "big"), int.from_bytes(d(jwk["n"]), "big")).public_key()
h, p, s = token.split(".")
key.verify(d(s), f"{h}.{p}".encode(), PKCS1v15(), SHA256())
claims = json.loads(d(p))
assert claims["iss"] == issuer and claims["aud"] == "api://default" and claims["exp"] > time.time()
print("Allow")
"""

OURS_COLD = """
import sys
from app import lambda_handler
class Context:
    function_name = "authorizer"; memory_limit_in_mb = 512; aws_request_id = "bench"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:authorizer"
event = {"type": "TOKEN", "authorizationToken": "Bearer " + sys.argv[2], "methodArn": sys.argv[3]}
print(lambda_handler(event, Context())["policyDocument"]["Statement"][0]["Effect"])
"""


def b64url(data: bytes) -> str:
    """Unpadded base64url."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class KeyServer:
    """Publishes one JWKS at {issuer}/v1/keys on 127.0.0.1 and counts the fetches."""

    def __init__(self, jwks: dict[str, Any]) -> None:
        body = json.dumps(jwks).encode()
        counter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                counter.fetches += 1
                self.send_response(200 if self.path == f"{ISSUER_PATH}/v1/keys" else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.fetches = 0
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self.httpd.server_address[1]}{ISSUER_PATH}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


def minimal_verify(token: str, key: rsa.RSAPublicKey, issuer: str) -> dict[str, Any]:
    """The floor: split, decode, verify RS256, check iss, aud and exp. No policy, no logs, no strictness."""
    h, p, s = token.split(".")
    key.verify(base64.urlsafe_b64decode(s + "=="), f"{h}.{p}".encode(), padding.PKCS1v15(), SHA256())
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(p + "=="))
    if claims["iss"] != issuer or claims["aud"] != AUDIENCE or claims["exp"] <= time.time():
        raise ValueError("invalid")
    return claims


def per_call(fn: Callable[[str], Any], tokens: list[str]) -> float:
    """Seconds per call of fn over tokens."""
    started = time.perf_counter()
    for token in tokens:
        fn(token)
    return (time.perf_counter() - started) / len(tokens)


def interleaved_ratio(
    fn: Callable[[str], Any], floor: Callable[[str], Any], tokens: list[str], chunk: int = 50
) -> float:
    """Total time of fn over total time of floor, alternating small chunks so both see the same machine load."""
    ours = base = 0.0
    for i in range(0, len(tokens), chunk):
        part = tokens[i : i + chunk]
        base += per_call(floor, part)
        ours += per_call(fn, part)
    return ours / base


@contextmanager
def quiet_stdout() -> Iterator[None]:
    """Send fd 1 to /dev/null: the handler's log lines are written (as in Lambda) but not shown."""
    sys.stdout.flush()
    saved = os.dup(1)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(null)
        os.close(saved)


def cold_seconds(args: list[str], env: dict[str, str]) -> float:
    """Wall time of a fresh interpreter running to its first Allow."""
    started = time.perf_counter()
    out = subprocess.run(args, env=env, capture_output=True, text=True, check=True).stdout  # noqa: S603
    elapsed = time.perf_counter() - started
    if "Allow" not in out.splitlines()[-1]:
        raise RuntimeError(f"cold run did not allow: {out[-200:]}")
    return elapsed


def main() -> int:
    """Run every measurement and print ratios; exit 1 if a target is missed."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    numbers = private.public_key().public_numbers()
    jwk = {"kty": "RSA", "alg": "RS256", "use": "sig", "kid": "bench-key"}
    jwk |= {"n": b64url(numbers.n.to_bytes(256, "big")), "e": b64url(numbers.e.to_bytes(3, "big"))}
    server = KeyServer({"keys": [jwk]})
    now = int(time.time())

    def mint(i: int) -> str:
        claims = {"ver": 1, "jti": f"AT.{i}", "iss": server.issuer, "aud": AUDIENCE, "iat": now, "exp": now + 3600}
        claims |= {"cid": "0oabench", "sub": "0oabench", "scp": ["hello"]}
        return jwt.encode(claims, private, algorithm="RS256", headers={"kid": "bench-key"})

    print(f"minting {ROUNDS * DISTINCT} tokens...", file=sys.stderr)
    rounds = [[mint(r * DISTINCT + i) for i in range(DISTINCT)] for r in range(ROUNDS)]
    env = {"ISSUER": server.issuer, "AUDIENCE": AUDIENCE, "HELLO_SCOPE": "hello", "REGISTER_SCOPE": "register"}
    env |= {"POWERTOOLS_SERVICE_NAME": "authorizer", "POWERTOOLS_LOG_LEVEL": "INFO"}
    os.environ.update(env)
    code_path = [str(ROOT / "functions" / "authorizer"), str(ROOT / "layers" / "core")]
    sys.path[:0] = code_path
    from app import lambda_handler  # type: ignore[import-not-found]

    class Context:
        function_name = "authorizer"
        memory_limit_in_mb = 512
        aws_request_id = "bench"
        invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:authorizer"

    def authorize(token: str) -> Any:
        event = {"type": "TOKEN", "authorizationToken": "Bearer " + token, "methodArn": ARN}
        return lambda_handler(event, Context())

    public = private.public_key()

    def floor(token: str) -> Any:
        return minimal_verify(token, public, server.issuer)

    warm, same = [], []
    with quiet_stdout():
        authorize(rounds[0][0])  # cold start done: keys fetched once
        for tokens in rounds:
            warm.append(interleaved_ratio(authorize, floor, tokens))
            same.append(interleaved_ratio(authorize, floor, [tokens[0]] * DISTINCT))
        fetches_before = server.fetches
        mixed = [tok for tokens in rounds for tok in tokens][:WARM_CALLS]
        mixed += [rounds[0][0]] * (WARM_CALLS - len(mixed))
        per_call(authorize, mixed)
        warm_fetches = server.fetches - fetches_before

    child_env = {**os.environ, **env, "PYTHONPATH": os.pathsep.join(code_path), "PYTHONDONTWRITEBYTECODE": "0"}
    token = rounds[0][1]
    cold_ratio = []
    for _ in range(COLD_RUNS):
        ours = cold_seconds([sys.executable, "-c", OURS_COLD, server.issuer, token, ARN], child_env)
        minimal = cold_seconds([sys.executable, "-c", MINIMAL_COLD, server.issuer, token], child_env)
        cold_ratio.append(ours / minimal)

    rows = [
        ("warm, distinct tokens / minimal verify", statistics.median(warm), 3.0),
        ("same token again / minimal verify", statistics.median(same), 0.2),
        ("cold start / minimal urllib+cryptography authorizer", statistics.median(cold_ratio), 2.0),
        (f"key fetches in {WARM_CALLS} warm calls", float(warm_fetches), 1.0),
    ]
    failed = False
    print(f"{'measure':<55} {'value':>8} {'target':>8}")
    for name, value, target in rows:
        ok = value <= target
        failed |= not ok
        print(f"{name:<55} {value:>8.3f} {'<= ' + str(target):>8} {'ok' if ok else 'MISSED'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""The hand-written SigV4 signer (okta_m2m.tokens._sigv4) against AWS's published example and, for generated
requests, against botocore's own signer (what boto3 sends and AWS checks)."""

from __future__ import annotations

import calendar
import time

from botocore.auth import SIGNED_HEADERS_BLACKLIST, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials
from hypothesis import given
from hypothesis import strategies as st

from okta_m2m.tokens._sigv4 import Credentials, Signer, amz_date
from tests.hypothesis_profiles import load_profile

load_profile()

# The aws-sig-v4-test-suite's example credentials and its "get-vanilla" request.
EXAMPLE = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
EXAMPLE_TIME = calendar.timegm((2015, 8, 30, 12, 36, 0))


def test_aws_get_vanilla_example():
    signed = dict(
        Signer("service", "us-east-1", EXAMPLE).sign("GET", "example.amazonaws.com", "/", [], b"", EXAMPLE_TIME)
    )
    assert signed["X-Amz-Date"] == "20150830T123600Z"
    assert signed["Authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
    )


def test_a_session_token_is_sent_and_signed_and_never_shown():
    creds = Credentials("AKID", "s3cr3t-value", "session-token")
    signed = dict(Signer("dynamodb", "eu-west-1", creds).sign("POST", "h", "/", [], b"{}", EXAMPLE_TIME))
    assert signed["X-Amz-Security-Token"] == "session-token"
    assert "x-amz-security-token" in signed["Authorization"]
    assert "s3cr3t-value" not in repr(creds) and "session-token" not in repr(creds)


def test_the_signing_key_follows_the_day():
    signer = Signer("dynamodb", "us-east-1", EXAMPLE)
    first = dict(signer.sign("POST", "h", "/", [], b"", EXAMPLE_TIME))["Authorization"]
    next_day = dict(signer.sign("POST", "h", "/", [], b"", EXAMPLE_TIME + 86400))["Authorization"]
    assert "/20150830/" in first and "/20150831/" in next_day
    assert dict(signer.sign("POST", "h", "/", [], b"", EXAMPLE_TIME))["Authorization"] == first


def botocore_signature(method, host, path, headers, body, region, service, creds, now) -> str:
    """botocore's signature over the same request (as moto's server recomputes it to check ours)."""
    request = AWSRequest(method=method, url=f"https://{host}{path}", data=body, headers=dict(headers))
    request.headers["Host"] = host
    request.context["timestamp"] = amz_date(now)
    auth = SigV4Auth(BotoCredentials(creds.access_key, creds.secret_key, creds.session_token or None), service, region)
    canonical = auth.canonical_request(request)
    return auth.signature(auth.string_to_sign(request, canonical), request)


_NAME = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-ABCXYZ0123456789", min_size=1, max_size=12).filter(
    lambda n: (
        # botocore leaves its SIGNED_HEADERS_BLACKLIST (connection, te, upgrade, ...) unsigned; we sign every header
        # we are given (SigV4 lets the signer choose, and lists them), so those are not generated here.
        n.lower() not in {"host", "x-amz-date", "x-amz-security-token", "authorization", *SIGNED_HEADERS_BLACKLIST}
    )
)
_VALUE = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E) | st.just(" "), max_size=30).map(
    lambda v: v.strip() or "v"
)


@given(
    method=st.sampled_from(["POST", "GET", "PUT"]),
    host=st.sampled_from(["dynamodb.us-east-1.amazonaws.com", "127.0.0.1:5000", "localhost"]),
    path=st.sampled_from(["/", "/a", "/a/b-c_d.e~f"]),
    headers=st.dictionaries(_NAME, _VALUE, max_size=4, dict_class=dict).map(lambda d: list(d.items())),
    body=st.binary(max_size=200),
    region=st.sampled_from(["us-east-1", "eu-central-1", "cn-north-1"]),
    service=st.sampled_from(["dynamodb", "execute-api"]),
    token=st.sampled_from(["", "FwoGZXIvYXdzEBYaDH/+=="]),
    now=st.integers(min_value=1_500_000_000, max_value=2_500_000_000),
)
def test_our_signature_is_botocores(method, host, path, headers, body, region, service, token, now):
    # Header names differing only in case would be one header to both; keep them apart as HTTP would.
    headers = list({name.lower(): (name, value) for name, value in headers}.values())
    creds = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
    signed = Signer(service, region, creds).sign(method, host, path, headers, body, now)
    authorization = dict(signed)["Authorization"]
    ours = authorization.rpartition("Signature=")[2]
    theirs = botocore_signature(
        method, host, path, [h for h in signed if h[0] != "Authorization"], body, region, service, creds, now
    )
    assert ours == theirs


def test_amz_date_is_utc():
    assert amz_date(0) == "19700101T000000Z"
    assert amz_date(time.time())[:4] >= "2025"

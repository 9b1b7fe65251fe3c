"""split_url, the URL grammar of our fetches and settings, against urllib.parse; secure_url's rules on top of it.

split_url admits a narrow grammar so that no URL means one host to the settings check and another to the fetch.
The property test holds it to the standard library: whatever split_url admits, urlsplit reads the same way, with
no user info, query or fragment. Profiles: tests/hypothesis_profiles.py.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from okta_m2m.errors import ConfigError
from okta_m2m.tokens._fetch import DEFAULT_PORTS, split_url
from okta_m2m.tokens._issuers import secure_url
from tests.hypothesis_profiles import load_profile

load_profile()

# The characters that make URLs ambiguous, and some that look like ASCII but are not.
TRICKY = "@:/?#[]\\%.-_ \t\n\r" + "é\u3002\uff0e\u0130\u0661"
schemes = st.sampled_from(["http", "https", "HTTPS", "Http", "ftp", "https:", "http:/"])
labels = st.text(alphabet="abcxyzAZ019-", min_size=1, max_size=6)
hosts = st.one_of(
    st.lists(labels, min_size=1, max_size=3).map(".".join),
    st.sampled_from(["[::1]", "[0:0::1]", "127.0.0.1", "[fe80::1%25eth0]", "[v1.x]", ""]),
)
ports = st.one_of(st.just(""), st.integers(0, 70000).map(lambda port: f":{port}"), st.sampled_from([":", ":+1", ": 1"]))
paths = st.lists(st.text(alphabet="abc%20-_~.;=", max_size=5), max_size=3).map(lambda s: "".join("/" + p for p in s))


@st.composite
def urls(draw: st.DrawFn) -> str:
    """Plausible URLs, some with user info, a query or a fragment, many with a tricky character or two put into
    their authority (where the host is read from) or anywhere."""
    scheme = draw(schemes)
    authority = draw(st.sampled_from(["", "", "", "user@", "u:p@", "@"])) + draw(hosts) + draw(ports)
    url = f"{scheme}://{authority}{draw(paths)}{draw(st.sampled_from(['', '', '', '?q', '#f', '?', '#']))}"
    for _ in range(draw(st.integers(0, 2))):
        start = len(scheme) + 3
        at = draw(st.one_of(st.integers(start, start + len(authority)), st.integers(0, len(url))))
        url = url[:at] + draw(st.sampled_from(TRICKY)) + url[at:]
    return url


def same_as_urlsplit(url: str) -> None:
    found = split_url(url)
    if found is None:
        return
    parts = urlsplit(url)
    assert parts.scheme == found.scheme
    assert parts.hostname == found.host
    assert (parts.port or DEFAULT_PORTS[found.scheme]) == found.port
    assert (parts.path or "/") == found.path
    assert not (parts.username or parts.password or parts.query or parts.fragment or "@" in parts.netloc)


@given(urls())
def test_what_split_url_admits_urlsplit_reads_the_same_way(url):
    same_as_urlsplit(url)


@given(st.text(max_size=40))
def test_any_text_split_url_admits_urlsplit_reads_the_same_way(text):
    same_as_urlsplit(text)
    same_as_urlsplit("https://" + text)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://dev-1.okta.com/oauth2/default", ("https", "dev-1.okta.com", 443, "/oauth2/default")),
        ("HTTPS://Dev-1.Okta.com", ("https", "dev-1.okta.com", 443, "/")),
        ("http://127.0.0.1:8080/v1/keys", ("http", "127.0.0.1", 8080, "/v1/keys")),
        ("http://[::1]:9000/x", ("http", "::1", 9000, "/x")),
        ("https://okta.example./p%20q", ("https", "okta.example.", 443, "/p%20q")),
    ],
)
def test_plain_urls_are_split(url, expected):
    found = split_url(url)
    assert found is not None and (found.scheme, found.host, found.port, found.path) == expected


@pytest.mark.parametrize(
    "url",
    [
        "https://user@okta.com/",
        "https://user:pw@okta.com/",
        "https://okta.com/?x=1",
        "https://okta.com/#f",
        "https://okta.com\\@evil.com/",
        "https://okta.com:/",
        "https://okta.com:0/",
        "https://okta.com:65536/",
        "https://okta.com:+443/",
        "https://okta.com:٤٤٣/",  # Arabic-Indic digits: isdigit() says yes, a port says no
        "https://ökta.com/",
        "https://okta_1.com/",
        "https://-okta.com/",
        "https://okta..com/",
        "https://[okta.com]/",
        "https://[::1/",
        "https://[::1]x/",
        "https:///path",
        "https:okta.com",
        "ftp://okta.com/",
        "https://okta.com/a b",
    ],
)
def test_urls_that_are_not_plain_are_refused(url):
    assert split_url(url) is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("ftp://okta.com/x", "must be an https URL"),
        ("okta.com/oauth2/default", "must be an https URL"),
        ("http://okta.example/oauth2/default", "must be an https URL"),
        ("http://10.0.0.1/oauth2/default", "must be an https URL"),
        ("https://okta.com/oauth2/default?x", "is not a plain URL"),
        ("https://user@okta.com/", "is not a plain URL"),
    ],
)
def test_secure_url_refuses_plain_http_to_other_hosts_and_urls_that_are_not_plain(value, message):
    with pytest.raises(ConfigError, match=f"setting ISSUER {message}"):
        secure_url("ISSUER", value)


@pytest.mark.parametrize(
    "value",
    [
        "https://dev-1.okta.com/oauth2/default",
        "http://127.0.0.1:9000/oauth2/default",
        "http://127.8.9.10/x",
        "http://localhost:9000/x",
        "http://[::1]:9000/x",
        "http://[0:0:0:0:0:0:0:1]/x",
    ],
)
def test_secure_url_takes_https_and_plain_http_to_loopback(value):
    assert secure_url("ISSUER", value) == value

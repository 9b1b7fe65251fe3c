"""okta_m2m.tokens._fetch against real servers on loopback: how answers are framed, what is refused, bounds, and TLS.

A scripted TCP server answers each request with exact bytes (and pauses), so that every framing a server may use
(Content-Length, chunked, ended by the close) and every malformed answer can be sent as it would come off the wire.
The TLS tests serve a certificate of a throwaway CA, trusted through SSL_CERT_FILE, as OpenSSL reads it.
"""

from __future__ import annotations

import json
import socket
import socketserver
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from okta_local.tls import make_tls_files
from okta_m2m.tokens import _fetch as fetch
from okta_m2m.tokens._fetch import MAX_RESPONSE_BYTES, HttpError, Prefetched, fetch_json

pytestmark = pytest.mark.integration

PATH = "/oauth2/default/v1/keys"
DOCUMENT = {"keys": [{"kid": "k1", "kty": "RSA"}]}
BODY = json.dumps(DOCUMENT).encode()
Part = bytes | float  # bytes to send, or seconds to pause


def answer(body: bytes = BODY, status: str = "200 OK", headers: tuple[str, ...] | None = None) -> bytes:
    """An HTTP/1.1 answer: the status line, the headers (Content-Length by default), a blank line, the body."""
    fields = (f"Content-Length: {len(body)}",) if headers is None else headers
    head = "\r\n".join((f"HTTP/1.1 {status}", "Content-Type: application/json", *fields))
    return head.encode() + b"\r\n\r\n" + body


def chunked(*pieces: bytes, last: bytes = b"0\r\n\r\n") -> bytes:
    """A chunked body of `pieces`, then the last chunk (with its empty trailer section, unless given)."""
    return b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces) + last


class ScriptedServer:
    """Reads one request head per connection, records it, sends `parts` and closes, unless `hold`: then it keeps
    the connection open (as a keep-alive server would) until the test ends."""

    def __init__(self, tls: ssl.SSLContext | None = None, host: str = "127.0.0.1") -> None:
        self.parts: list[Part] = [answer()]
        self.hold = False
        self.requests: list[bytes] = []
        self.released = threading.Event()
        server = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                connection = self.request
                if tls is not None:
                    try:
                        connection = tls.wrap_socket(connection, server_side=True)
                    except (ssl.SSLError, OSError):
                        return  # the client refused our certificate
                head = b""
                while b"\r\n\r\n" not in head and (chunk := connection.recv(4096)):
                    head += chunk
                server.requests.append(head)
                try:
                    for part in server.parts:
                        if isinstance(part, float):
                            time.sleep(part)
                        else:
                            connection.sendall(part)
                except OSError:
                    return  # the client gave up
                if server.hold:
                    server.released.wait(10)

        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        socketserver.ThreadingTCPServer.address_family = family
        self.server = socketserver.ThreadingTCPServer((host, 0), Handler)
        self.server.daemon_threads = True
        socketserver.ThreadingTCPServer.address_family = socket.AF_INET
        port = self.server.server_address[1]
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://{f'[{host}]' if ':' in host else host}:{port}{PATH}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    scripted = ScriptedServer()
    yield scripted
    scripted.close()


def refused(server: ScriptedServer, timeout: float = 2.0) -> HttpError:
    with pytest.raises(HttpError) as caught:
        fetch_json(server.url, timeout)
    return caught.value


def test_a_sized_answer_is_read_and_the_request_is_a_plain_get_on_its_own_connection(server):
    assert fetch_json(server.url, 2.0) == DOCUMENT
    request = server.requests[0]
    lines = request.decode().split("\r\n")
    port = server.url.rsplit(":", 1)[1].split("/")[0]
    assert lines[0] == f"GET {PATH} HTTP/1.1"
    assert set(lines[1:-2]) == {
        f"Host: 127.0.0.1:{port}",
        "Accept: application/json",
        "User-Agent: okta-m2m",
        "Connection: close",
    }
    assert request.endswith(b"\r\n\r\n")  # no body, and no Accept-Encoding: the answer comes unencoded


def test_a_sized_answer_on_a_connection_the_server_keeps_open_is_taken_without_waiting_for_the_close(server):
    server.hold = True  # were the client to read until the close, it would run out of time first
    assert fetch_json(server.url, 1.0) == DOCUMENT


def test_a_chunked_answer_sent_in_pieces_with_extensions_and_trailers_is_put_back_together(server):
    half = len(BODY) // 2
    body = chunked(BODY[:half], BODY[half:], last=b"0;ext=1\r\nX-Trailer: yes\r\n\r\n")
    head = answer(b"", headers=("Transfer-Encoding: chunked",))
    server.parts = [head, 0.05, body[:5], 0.05, body[5:17], 0.05, body[17:]]
    server.hold = True
    assert fetch_json(server.url, 2.0) == DOCUMENT


def test_an_answer_ended_by_the_close_is_read_to_the_end(server):
    server.parts = [b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n", BODY[:10], 0.05, BODY[10:]]
    assert fetch_json(server.url, 2.0) == DOCUMENT


@pytest.mark.parametrize(
    "parts",
    [
        [answer(headers=(f"Content-Length: {len(BODY) + 10}",))],
        [answer(chunked(BODY, last=b""), headers=("Transfer-Encoding: chunked",))],
        [answer(chunked(BODY)[:-2], headers=("Transfer-Encoding: chunked",))],
    ],
    ids=["sized", "chunked", "chunked-trailer-section"],
)
def test_an_answer_cut_short_by_the_close_is_refused(server, parts):
    server.parts = parts
    assert str(refused(server)) == "answer cut short (status 200)"


@pytest.mark.parametrize(
    "body",
    [b"0x5\r\nhello\r\n0\r\n\r\n", b"g\r\nhello\r\n0\r\n\r\n", b"\r\n", b"5\r\nhello!!0\r\n\r\n", b"123456789\r\n"],
    ids=["0x-prefix", "not-hex", "empty-size", "no-crlf-after-data", "size-too-long"],
)
def test_a_malformed_chunk_is_refused(server, body):
    server.parts = [answer(body, headers=("Transfer-Encoding: chunked",))]
    assert str(refused(server)) == "malformed chunk (status 200)"


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        (("Content-Encoding: gzip", f"Content-Length: {len(BODY)}"), "encoded answer"),
        (("Transfer-Encoding: gzip, chunked",), "unsupported transfer coding"),
        ((f"Content-Length: {len(BODY)}", "Content-Length: 5"), "malformed Content-Length"),
        (("Content-Length: -1",), "malformed Content-Length"),
        (("Content-Length: +5",), "malformed Content-Length"),
    ],
)
def test_an_answer_whose_body_cannot_be_framed_or_decoded_is_refused(server, headers, reason):
    server.parts = [answer(headers=headers)]
    assert str(refused(server)) == f"{reason} (status 200)"


def test_the_same_content_length_twice_is_one_length(server):
    server.parts = [answer(headers=(f"Content-Length: {len(BODY)}", f"Content-Length: {len(BODY)}"))]
    assert fetch_json(server.url, 2.0) == DOCUMENT


@pytest.mark.parametrize(
    ("parts", "reason"),
    [
        ([b"HTTP/2 200 OK\r\n\r\n{}"], "malformed status line"),
        ([b"ICY 200 OK\r\n\r\n{}"], "malformed status line"),
        ([b"HTTP/1.1 20 OK\r\n\r\n{}"], "malformed status line"),
        ([b"HTTP/1.1 2000 OK\r\n\r\n{}"], "malformed status line"),
        ([b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n{}"], "malformed header"),
        ([b"HTTP/1.1 200 OK\r\n folded: value\r\n\r\n{}"], "malformed header"),
        ([b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"], "malformed answer"),  # closed before the head ended
        ([b""], "malformed answer"),
        ([b"HTTP/1.1 200 OK\r\n" + b"X-Filler: " + b"a" * fetch.MAX_HEAD_BYTES], "malformed answer"),
    ],
    ids=["http2", "not-http", "short-code", "long-code", "no-colon", "folded", "head-cut", "empty", "head-too-big"],
)
def test_a_malformed_head_is_refused(server, parts, reason):
    server.parts = parts
    assert str(refused(server)) == f"{reason} (status 0)"


@pytest.mark.parametrize(
    "parts",
    [
        [answer(headers=(f"Content-Length: {MAX_RESPONSE_BYTES + 1}",))],  # refused before its body is read
        [b"HTTP/1.1 200 OK\r\n\r\n", b"[" + b"0," * (MAX_RESPONSE_BYTES // 2) + b"0]"],
        [answer(chunked(*[b" " * 65536] * 8, b"{}"), headers=("Transfer-Encoding: chunked",))],
    ],
    ids=["sized", "ended-by-close", "chunked"],
)
def test_an_answer_larger_than_the_bound_is_refused(server, parts):
    server.parts = parts
    assert str(refused(server)) == "response too large (status 200)"


def test_an_answer_of_exactly_the_bound_is_taken(server):
    body = b'"' + b"a" * (MAX_RESPONSE_BYTES - 2) + b'"'
    server.parts = [answer(body)]
    assert len(fetch_json(server.url, 5.0)) == MAX_RESPONSE_BYTES - 2


@pytest.mark.parametrize("status", ["404 Not Found", "500 Internal Server Error", "302 Found"])
def test_another_status_is_an_error_carrying_it_and_a_redirect_is_not_followed(server, status):
    server.parts = [answer(b"{}", status, (f"Location: {server.url}", "Content-Length: 2"))]
    error = refused(server)
    assert error.status == int(status[:3])
    assert len(server.requests) == 1


def test_a_body_that_is_not_json_is_refused(server):
    server.parts = [answer(b"<html>not json</html>")]
    assert str(refused(server)) == "not JSON (status 200)"


def test_an_answer_dripping_in_slower_than_the_timeout_is_cut_off(server):
    # The whole body would arrive, valid, after about 4 s: a client bounded per read rather than per fetch takes it.
    drip: list[Part] = [answer(headers=(f"Content-Length: {len(BODY)}",))[: -len(BODY)]]
    for byte in BODY:
        drip += [0.05, bytes([byte])]
    server.parts = drip
    assert str(refused(server, timeout=1.0)) == "timed out (status 0)"


def test_a_server_that_never_answers_is_given_up_on(server):
    server.parts = []
    server.hold = True
    assert str(refused(server, timeout=0.5)) == "timed out (status 0)"


def test_a_closed_port_is_an_error_with_no_status(server):
    url = server.url
    server.close()
    with pytest.raises(HttpError) as caught:
        fetch_json(url, 1.0)
    assert str(caught.value) == "ConnectionRefusedError (status 0)"


@pytest.mark.parametrize(
    "url",
    ["ftp://127.0.0.1/keys", "http://user@127.0.0.1/keys", "http://127.0.0.1/keys?x=1", "http://127.0.0.1\\@x/"],
)
def test_a_url_that_is_not_plain_is_not_fetched(url):
    with pytest.raises(HttpError, match="not a plain http"):
        fetch_json(url, 1.0)


def test_an_ipv6_loopback_url_is_fetched_with_its_host_in_brackets():
    scripted = ScriptedServer(host="::1")
    try:
        assert fetch_json(scripted.url, 2.0) == DOCUMENT
        port = scripted.url.rsplit(":", 1)[1].split("/")[0]
        assert f"\r\nHost: [::1]:{port}\r\n".encode() in scripted.requests[0]
    finally:
        scripted.close()


# --- TLS ---


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[ScriptedServer, Path]]:
    """A scripted server behind TLS with a certificate for 127.0.0.1 and localhost; the path of its CA."""
    ca, cert, key = make_tls_files(tmp_path, ("127.0.0.1", "localhost"))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    scripted = ScriptedServer(tls=context)
    yield scripted, ca
    scripted.close()


def test_https_takes_the_answer_of_a_server_whose_certificate_is_trusted(tls_server, monkeypatch):
    server, ca = tls_server
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))
    assert fetch_json(server.url, 3.0) == DOCUMENT
    assert fetch_json(server.url.replace("127.0.0.1", "localhost"), 3.0) == DOCUMENT  # by name, checked by name
    assert server.requests[0].startswith(f"GET {PATH} HTTP/1.1\r\n".encode())


def test_https_refuses_a_server_whose_certificate_is_not_trusted(tls_server, monkeypatch, tmp_path):
    server, _ = tls_server
    (tmp_path / "other").mkdir()
    other_ca, _, _ = make_tls_files(tmp_path / "other")
    monkeypatch.setenv("SSL_CERT_FILE", str(other_ca))
    assert str(refused(server)) == "SSLCertVerificationError (status 0)"
    assert server.requests == []  # nothing was sent over the refused connection


def test_https_refuses_a_certificate_for_another_host(tmp_path, monkeypatch):
    ca, cert, key = make_tls_files(tmp_path, ("localhost",))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    scripted = ScriptedServer(tls=context)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))
    try:
        assert str(refused(scripted)) == "SSLCertVerificationError (status 0)"  # a certificate for localhost only
        assert fetch_json(scripted.url.replace("127.0.0.1", "localhost"), 3.0) == DOCUMENT
    finally:
        scripted.close()


def test_https_prefetches_started_together_make_one_tls_context_and_take_the_keys(tls_server, monkeypatch):
    # Each prefetch thread loads the CAs (without the GIL) rather than the thread that starts it: several issuers'
    # threads asking at once must not each load them again.
    server, ca = tls_server
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))
    made: list[ssl.SSLContext] = []
    real = ssl.create_default_context

    def counted(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        made.append(real(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(ssl, "create_default_context", counted)
    server.parts = [0.3, answer()]  # the answers leave the server well after the prefetches have started
    prefetches = [Prefetched(server.url, 3.0) for _ in range(3)]
    assert not any(prefetch._done.is_set() for prefetch in prefetches)  # starting waited on nothing
    assert [prefetch(server.url, 3.0) for prefetch in prefetches] == [DOCUMENT] * 3
    assert len(made) == 1 and len(server.requests) == 3

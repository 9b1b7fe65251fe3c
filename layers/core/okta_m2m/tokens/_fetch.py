"""Bounded JSON GETs over https (or loopback http), and one started ahead of need.

Only socket and threading at import (not typing either); ssl and json load on first use. The authorizer starts its
key fetch as the first thing of Lambda's INIT, and what this module imports is what it waits for before the request
can leave (make bench, cold start): http.client alone, with the email package it parses headers with, costs more
than the rest of the fetch. The HTTP it speaks is the little a keys endpoint needs: one GET on a connection of its
own, closed after the answer, which may be sized by Content-Length, chunked, or ended by the close. Redirects are
not followed.
"""

from __future__ import annotations

import socket
import threading
import time
from functools import lru_cache

TYPE_CHECKING = False  # typing's flag, without importing typing: see the module's docstring
if TYPE_CHECKING:
    import ssl
    from collections.abc import Callable, Sequence
    from typing import Any

    # status, Content-Length (None when chunked or ended by the close), chunked, the server closes the connection
    _Head = tuple[int, int | None, bool, bool]

MAX_RESPONSE_BYTES = 512 * 1024
MAX_HEAD_BYTES = 16 * 1024
TIMEOUT_SECONDS = 3.0  # for a whole fetch: connect, answer and body
TIMED_OUT = "timed out"
DEFAULT_PORTS = {"https": 443, "http": 80}
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.-")
_IPV6_CHARS = frozenset("0123456789abcdef:.")
_HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")
_PATH_CHARS = frozenset(chr(c) for c in range(0x21, 0x7F)) - frozenset("?#\\")


class HttpError(Exception):
    """A fetch that did not give a usable 200 answer; status is 0 where no HTTP status came back."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{reason} (status {status})")
        self.status = status
        self.reason = reason


class Url:
    """A plain http(s) URL: host lowercased, without brackets; port explicit; path starting with /."""

    __slots__ = ("host", "path", "port", "scheme")

    def __init__(self, scheme: str, host: str, port: int, path: str) -> None:
        self.scheme = scheme
        self.host = host
        self.port = port
        self.path = path


def split_url(url: str) -> Url | None:
    """The parts of `scheme://host[:port][/path]`, or None for anything else: user info, a query, a fragment, a
    backslash, a host that is not an ASCII DNS name, an IPv4 address or a bracketed IPv6 address. Strict on
    purpose, so that settings checked with it name exactly the host a fetch connects to."""
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    authority, slash, path = rest.partition("/")
    path = slash + path or "/"
    if not sep or scheme not in DEFAULT_PORTS or not _PATH_CHARS.issuperset(path):
        return None
    if authority.startswith("["):
        host, bracket, after = authority[1:].lower().partition("]")
        colon, port = after[:1], after[1:]
        if not bracket or ":" not in host or not _IPV6_CHARS.issuperset(host) or colon not in ("", ":"):
            return None
    else:
        host, colon, port = authority.lower().partition(":")
        if not _NAME_CHARS.issuperset(host) or host.startswith((".", "-")) or ".." in host:
            return None
    if not host or colon and not (port.isascii() and port.isdigit()):
        return None
    number = int(port) if port else DEFAULT_PORTS[scheme]
    return Url(scheme, host, number, path) if 0 < number < 65536 else None


_TLS_LOCK = threading.Lock()


def tls_context() -> ssl.SSLContext:
    """The TLS context of every https fetch, made once: certificates verified against the system's CAs, host name
    checked, TLS 1.2 at least. Loading the CAs is most of its cost (about 20 ms): the first thread to ask makes it,
    and any other asking meanwhile (each issuer's prefetch has a thread) waits for that one rather than load them
    again."""
    with _TLS_LOCK:
        return _tls_context()


@lru_cache(maxsize=1)
def _tls_context() -> ssl.SSLContext:
    import ssl  # https only, and on first use: see the module's docstring

    return ssl.create_default_context()


def _connect(url: Url, deadline: float) -> socket.socket:
    # An ASCII host as bytes: a str would load the idna codec (split_url admits ASCII hosts only). getaddrinfo
    # takes bytes, which typeshed's create_connection does not say.
    host = url.host.encode("ascii")
    sock = socket.create_connection((host, url.port), timeout=_remaining(deadline))  # type: ignore[arg-type]
    if url.scheme == "http":
        return sock
    try:
        sock.settimeout(_remaining(deadline))
        return tls_context().wrap_socket(sock, server_hostname=host)
    except BaseException:
        sock.close()
        raise


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise HttpError(0, TIMED_OUT)
    return left


def _request(url: Url) -> bytes:
    port = "" if url.port == DEFAULT_PORTS[url.scheme] else f":{url.port}"
    host = f"[{url.host}]" if ":" in url.host else url.host
    lines = (
        f"GET {url.path} HTTP/1.1",
        f"Host: {host}{port}",
        "Accept: application/json",
        "User-Agent: okta-m2m",
        "Connection: close",
    )
    return "\r\n".join(lines).encode("ascii") + b"\r\n\r\n"


def _parse_head(head: bytes) -> _Head:
    """The status line and the headers that frame the body, as (status, Content-Length or None, chunked, closes);
    anything unframeable is an HttpError."""
    status_line, *fields = head.decode("latin-1").split("\r\n")
    version, _, rest = status_line.partition(" ")
    code = rest[:3]
    if version not in ("HTTP/1.1", "HTTP/1.0") or not (code.isascii() and code.isdigit()) or rest[3:4] not in " ":
        raise HttpError(0, "malformed status line")
    headers: dict[str, str] = {}
    for field in fields:
        name, colon, value = field.partition(":")
        name = name.lower()
        if not colon or not name or name != name.strip():
            raise HttpError(0, "malformed header")
        value = value.strip()
        if name in headers and (name != "content-length" or headers[name] != value):
            headers[name] = f"{headers[name]}, {value}"
        else:
            headers[name] = value
    if headers.get("content-encoding", "identity").lower() != "identity":
        raise HttpError(int(code), "encoded answer")  # none was asked for
    closes = version == "HTTP/1.0" or "close" in headers.get("connection", "").lower()
    coding = headers.get("transfer-encoding", "").lower()
    if coding:
        if coding != "chunked":
            raise HttpError(int(code), "unsupported transfer coding")
        return int(code), None, True, closes
    length = headers.get("content-length")
    if length is None:
        return int(code), None, False, True
    if not (length.isascii() and length.isdigit()):
        raise HttpError(int(code), "malformed Content-Length")
    return int(code), int(length), False, closes


def _dechunk(data: bytes) -> bytes | None:
    """The body of a complete chunked message (trailers ignored), None if more is to come; HttpError if malformed."""
    body = bytearray()
    at = 0
    while True:
        end = data.find(b"\r\n", at)
        if end < 0:
            return None
        size = data[at:end].split(b";", 1)[0]
        if not 0 < len(size) <= 8 or not _HEX_DIGITS.issuperset(size):
            raise HttpError(200, "malformed chunk")
        count = int(size, 16)
        if count == 0:  # the last chunk: complete once the (empty or trailer) section has ended
            return bytes(body) if data.find(b"\r\n\r\n", end) >= 0 else None
        start, at = end + 2, end + 2 + count + 2
        if len(data) < at:
            return None
        if data[at - 2 : at] != b"\r\n":
            raise HttpError(200, "malformed chunk")
        body += data[start : at - 2]


def _body(head: _Head, data: bytes, closed: bool) -> bytes | None:
    """The body once `data` (all after the head) holds all of it, else None; `closed`: the server has closed."""
    status, length, chunked, _ = head
    if chunked:
        body = _dechunk(data)
    elif length is not None:
        body = data[:length] if len(data) >= length else None
    else:
        body = data if closed else None
    if body is None and closed:
        raise HttpError(status, "answer cut short")
    return body


def _exchange(sock: socket.socket, url: Url, deadline: float) -> tuple[int, bytes]:
    """Send the GET and read the answer: (status, body), the body read only for a 200."""
    sock.settimeout(_remaining(deadline))
    sock.sendall(_request(url))
    status, body, _ = _read_answer(sock, deadline, every_body=False)
    return status, body


def _read_answer(sock: socket.socket, deadline: float, *, every_body: bool) -> tuple[int, bytes, bool]:
    """Read one answer: (status, body, whether the connection may carry another request). The body of an answer
    other than 200 is read only if `every_body`; otherwise the connection is not to be used again."""
    data = b""
    head: _Head | None = None
    while True:
        sock.settimeout(_remaining(deadline))
        chunk = sock.recv(65536)
        data += chunk
        if head is None:
            end = data.find(b"\r\n\r\n")
            if end < 0:
                if not chunk or len(data) > MAX_HEAD_BYTES:
                    raise HttpError(0, "malformed answer")
                continue
            head, data = _parse_head(data[:end]), data[end + 4 :]
            status, length, _, _ = head
            if status != 200 and not every_body:
                return status, b"", False
            if length is not None and length > MAX_RESPONSE_BYTES:
                raise HttpError(status, "response too large")
        if len(data) > MAX_RESPONSE_BYTES + MAX_HEAD_BYTES:  # room for chunk framing
            raise HttpError(head[0], "response too large")
        body = _body(head, data, closed=not chunk)
        if body is not None:
            if len(body) > MAX_RESPONSE_BYTES:
                raise HttpError(head[0], "response too large")
            return head[0], body, bool(chunk) and not head[3]


def fetch_json(url: str, timeout: float) -> Any:
    """GET a JSON document over https (or loopback http) within `timeout` seconds in all; redirects are not followed."""
    target = split_url(url)
    if target is None:
        raise HttpError(0, "not a plain http(s) URL")
    deadline = time.monotonic() + timeout
    try:
        with _connect(target, deadline) as sock:
            status, body = _exchange(sock, target, deadline)
    except TimeoutError:
        raise HttpError(0, TIMED_OUT) from None
    except OSError as exc:  # ssl.SSLError among them
        raise HttpError(0, type(exc).__name__) from None
    if status != 200:
        raise HttpError(status, "unexpected status")
    import json  # after the request has left: see the module's docstring

    try:
        return json.loads(body)
    except ValueError:
        raise HttpError(200, "not JSON") from None


class Prefetched:
    """A fetch of one URL started in a background thread (during Lambda's INIT), so it overlaps the imports.

    Call it as `fetch_json`. The first call for that URL takes the prefetched answer, waiting for it within that
    call's own timeout: a prefetch still under way is that call's fetch, and its failure the call's failure. If the
    prefetch had already failed, or its answer is older than `max_age` (INIT long before the first call, as with
    provisioned concurrency), the call fetches as it would have without it. Every other call goes to the network as
    usual. Starting never raises and never waits on the network: for https it loads ssl at once, and the thread the
    CAs (see __init__).
    """

    def __init__(
        self, url: str, timeout: float, *, max_age: float = 60.0, fetch: Callable[[str, float], Any] = fetch_json
    ) -> None:
        self.url = url
        self.timeout = timeout
        self.max_age = max_age
        self._fetch = fetch
        self._done = threading.Event()
        self._claimed = False
        self._document: Any = None
        self._error: HttpError | None = None
        self._fetched_at = float("-inf")
        target = split_url(url)
        if target is not None and target.scheme == "https":
            # ssl loads here, before the thread starts: an import holds the GIL wherever it runs, and here it holds
            # up no request. The CAs (about 20 ms) load in the thread, where OpenSSL parses them without the GIL
            # while the imports that follow run: cold over TLS 72 -> 55 ms with the keys answered at once, and no
            # later with them 120 ms late (make bench; the CAs loaded here as well, or ssl in the thread too, were
            # each slower in one of the two).
            try:
                import ssl  # noqa: F401
            except ImportError:  # a Python without ssl: the fetch fails on it as it would have
                pass
        try:
            threading.Thread(target=self._run, name="okta-m2m-prefetch", daemon=True).start()
        except RuntimeError:  # no thread to be had: nothing is pending, the first call fetches
            self._error = HttpError(0, "prefetch not started")
            self._done.set()

    def _run(self) -> None:
        try:
            self._document = self._fetch(self.url, self.timeout)
            self._fetched_at = time.time()  # wall clock: still right after a snapshot restore
        except HttpError as exc:
            self._error = exc
        except Exception as exc:  # a thread must not die noisily over the issuer; the first call will fetch
            self._error = HttpError(0, type(exc).__name__)
        finally:
            self._done.set()

    def __call__(self, url: str, timeout: float) -> Any:
        """The prefetched document for the first call on its URL, else a fetch of url within timeout seconds."""
        if self._claimed or url != self.url:
            return self._fetch(url, timeout)
        self._claimed = True
        settled = self._done.is_set()
        if not self._done.wait(timeout):
            raise HttpError(0, "prefetch still running")  # this call's whole budget went on waiting for it
        if self._error is None and time.time() - self._fetched_at <= self.max_age:
            return self._document
        if not settled and self._error is not None:
            raise self._error  # the fetch this call waited for failed: that was its fetch, as without a prefetch
        return self._fetch(url, timeout)


def host_header(url: Url) -> str:
    """The Host header for a URL: the port only where it is not the scheme's default."""
    port = "" if url.port == DEFAULT_PORTS[url.scheme] else f":{url.port}"
    return (f"[{url.host}]" if ":" in url.host else url.host) + port


class KeepAlive:
    """POSTs to one origin over one connection kept open between them (a Lambda container's calls to one AWS
    endpoint: the TLS handshake once, not per call). Thread-safe; a call waits for the one before it.

    A request on a connection the server has closed meanwhile (an idle keep-alive, a frozen container) is sent once
    more on a new one, so the caller must make its requests safe to repeat.
    """

    def __init__(self, url: str) -> None:
        target = split_url(url)
        if target is None:
            raise ValueError("not a plain http(s) URL")
        self.url = target
        self.host = host_header(target)
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()

    def connect(self, timeout: float) -> None:
        """Open the connection now, if none is open (to take the handshake off the first request's time)."""
        with self._lock:
            if self._sock is None:
                self._sock = _connect(self.url, time.monotonic() + timeout)

    def post(self, path: str, headers: Sequence[tuple[str, str]], body: bytes, timeout: float) -> tuple[int, bytes]:
        """POST body to path with these headers (Host, Content-Length and Connection are added) within `timeout`
        seconds in all: (status, body) of any status; HttpError if no answer could be had."""
        lines = [f"POST {path} HTTP/1.1", f"Host: {self.host}", f"Content-Length: {len(body)}"]
        lines += [f"{name}: {value}" for name, value in headers]
        request = "\r\n".join(lines).encode("ascii") + b"\r\n\r\n" + body
        deadline = time.monotonic() + timeout
        with self._lock:
            for attempt in (1, 2):
                reused = self._sock is not None
                try:
                    if self._sock is None:
                        self._sock = _connect(self.url, deadline)
                    self._sock.settimeout(_remaining(deadline))
                    self._sock.sendall(request)
                    status, answer, reusable = _read_answer(self._sock, deadline, every_body=True)
                except (OSError, HttpError) as exc:
                    self.close()
                    timed_out = isinstance(exc, TimeoutError) or getattr(exc, "reason", "") == TIMED_OUT
                    if reused and attempt == 1 and not timed_out:
                        continue  # the server had closed the kept connection: once more, on a new one
                    if isinstance(exc, HttpError):
                        raise
                    raise HttpError(0, TIMED_OUT if timed_out else type(exc).__name__) from None
                if not reusable:
                    self.close()
                return status, answer
        raise HttpError(0, "no answer")  # not reached: the second attempt returns or raises

    def close(self) -> None:
        """Close the connection (the next request opens a new one)."""
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()

"""`make soak`: many clients call GET /hello while the issuer rotates its key and its keys endpoint fails; all checked.

A private local stack on free ports (traffic to 127.0.0.1 only), a fixed number of requests paced over a fixed
schedule, every loop bounded in count and time. Each client is its own Okta service app, registered through
POST /register by the admin client, and calls with its own tokens: a fresh one every TOKEN_USES good calls, so the
authorizer (not only the gateway's policy cache) keeps deciding. One client in five sends every other call with a
bad token, cycling kinds: tampered (payload changed, signature kept), expired, wrong audience, garbage and, from the
outage on (its first bad token then), unknown kid. Expired and wrong-audience tokens are the client's own claims
re-signed with the issuer's current key (read from okta_local's state), so only that claim is wrong; unknown-kid
ones are signed by a stranger.

Schedule, in seconds after traffic starts (--short in brackets):
- 0 [0] steady: every kid the clients see is the one the authorizer fetched during set-up.
- 10 [2] outage: the keys endpoint fails (fault keys=fail), then the signing key is rotated (that order, milliseconds
  apart, so no token with the new kid reaches the authorizer before the outage). Tokens issued from now on carry the
  new kid. Each client switches to a reserve token it got at the start (old kid, never seen by gateway or
  authorizer) for RESERVE_USES good calls, then to fresh tokens, with the new kid.
- 20 [6] the keys endpoint hangs (fault keys=hang); 25 [11] faults cleared.
- 45 [20] the requests end. The authorizer (KeyCache) refetches at once on an unknown kid and keeps its keys when a
  fetch fails. A refetch that worked holds the next one off for a minute; a failed one only for the 5 s failure
  back-off, so the new kid's tokens retry through the outage (one of those retries meets the hang and times out)
  and the new key is fetched within a back-off of the recovery. The schedule runs some seconds of traffic after it.

Unknown-kid tokens start with the outage because one in the minute before it would spend the authorizer's immediate
refetch: the outage would then meet no fetch at all.

The oracle. okta_local records every answer of its keys endpoint (GET /_local/keys-log: when asked, when answered,
status). A fetch reached the authorizer if it was answered 200 within REACHED_WITHIN seconds (the authorizer gives up
after 3). T_new is when the first such fetch asked after the rotation was answered. An answer is right when it is:
- never: no answer (connection error, timeout), or any 5xx (the authorizer holds valid keys all along: its first
  fetch, in set-up, must have succeeded);
- bad token: 401;
- good token, old kid: 200 naming its client (the old key stays published, hence cached, through the run);
- good token, new kid, sent after T_new: 200 naming its client (the authorizer runs one request at a time, so any
  request sent after T_new is decided with the new keys);
- good token, new kid, sent before T_new (or no T_new): 200 naming its client, or 401 (the authorizer holds only the
  old key and may not refetch: during the outage, and after it until its next refetch). Never 403 or 5xx.
The gateway, like API Gateway, caches an Allow per token for the authorizer TTL and never caches a 401: a good token
reaches the authorizer on its first call only (hence fresh tokens and the reserve token), and a new-kid token refused
before T_new is allowed once the key is fetched. PASS needs 0 wrong answers and every check of `Report.steps`: each
phase really happened (rotation, a failed fetch in the outage, reserve tokens allowed in it, every bad kind refused,
the new key accepted after it within the refetch rule), refetches spaced as that rule says (a minute after one that
worked, the back-off after one that failed), every request answered.

The oracle needs one authorizer with one key cache, so the soak's local API runs one worker per function
(LOCAL_API_MAX_WORKERS=1: the local equivalent of reserved concurrency 1). With more, a worker started during the
outage would hold no keys at all (as a new Lambda environment would), and its answers would follow no rule above.
Each client is registered through POST /register, so it has its own API key in the template's usage plan. Its
traffic (4 requests/s in the full run, under 3 with --short) stays within the default limits (10/s, burst 20,
100000 a day), but a client catching up after a stall sends back to back and the admin registers every client in a
row, so the stack raises ClientRateLimit and ClientBurstLimit (SOAK_LIMITS); the quota stays the default, far above
a run's few hundred requests per key. A 429 is then a wrong answer like any other.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import secrets
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from benchmarks.api import Result
from devstack import LocalStack, Ports, StackError, free_port
from devstack.story import Step, client_for, tamper
from m2m_client import ClientError, M2MClient
from okta_local import cli as okta_cli
from okta_local.keys import KeyRing, rotate_keys
from okta_local.server import DB_FILE, KEYS_LOG_PATH
from okta_local.store import Store

GOOD = "good"
BAD_KINDS = ("tampered", "expired", "wrong-audience", "garbage", "unknown-kid")  # unknown-kid last: outage only
TOKEN_USES = 10  # good calls per token before a client asks for a fresh one
RESERVE_USES = 2  # good calls with the reserve token, then fresh tokens (new kid)
MIXED_EVERY = 5  # one client in five also sends bad tokens
CALL_TIMEOUT = 30.0
HELLO = {"message": "Hello World!"}
# The authorizer's key cache, as the README documents it: 3 s fetch timeout, unknown kid refetch at most once a
# minute, 5 s before retrying a failed fetch.
AUTHORIZER_FETCH_TIMEOUT = 3.0
MISS_COOLDOWN = 60.0
FAILURE_BACKOFF = 5.0
REACHED_WITHIN = AUTHORIZER_FETCH_TIMEOUT - 0.5  # surely in time; 2.5 to 3.5 s counts as neither reached nor failed
CLOCK_SLACK = 1.0
SHOWN_WRONG = 10
FULL_CLIENTS, FULL_REQUESTS = 50, 9000  # 200 requests/s over 45 s: half of what 2 cores carry (make soak on 2 cores)
SHORT_CLIENTS, SHORT_REQUESTS = 10, 600
# The local API: one authorizer (one key cache) for the oracle; usage plan limits no client of the soak reaches.
SOAK_API_ENV = {"LOCAL_API_MAX_WORKERS": "1"}
SOAK_LIMITS = {"ClientRateLimit": "1000", "ClientBurstLimit": "1000"}
POLICY_CALLS = 3  # a registration's enrolment reads, replaces and reads back the clients policy


@dataclass(frozen=True)
class Schedule:
    """When each phase starts, in seconds after traffic starts; the requests are spread over `duration`."""

    outage: float
    hang: float
    recover: float
    duration: float


# Hangs longer than the authorizer's fetch timeout, so that the retry meeting one surely times out.
FULL = Schedule(outage=10.0, hang=20.0, recover=25.0, duration=45.0)
SHORT = Schedule(outage=2.0, hang=6.0, recover=11.0, duration=22.0)


@dataclass(frozen=True)
class Settings:
    """One run's size and schedule."""

    clients: int
    requests: int
    schedule: Schedule
    authorizer_cache_ttl: int | None = None


@dataclass(frozen=True)
class Call:
    """One request: its token's kind and kid, when it went (epoch seconds, as the issuer logs) and its answer."""

    worker: int
    kind: str
    kid: str
    first_use: bool  # a good token's first call: the gateway has no policy cached for it
    sent: float
    seconds: float
    status: int  # 0: no answer (connection error or timeout)
    names_caller: bool  # the body is the hello answer for this client


@dataclass(frozen=True)
class KeysAnswer:
    """One answer of the issuer's keys endpoint, from its keys log."""

    received: float
    answered: float
    status: int
    fault: str | None

    @property
    def reached_authorizer(self) -> bool:
        """A 200 answered well within the authorizer's fetch timeout."""
        return self.status == 200 and self.answered - self.received < REACHED_WITHIN

    @property
    def failed(self) -> bool:
        """An error status, or an answer long after the authorizer gave up."""
        return self.status != 200 or self.answered - self.received >= AUTHORIZER_FETCH_TIMEOUT + 0.5


@dataclass(frozen=True)
class Timeline:
    """What happened when (epoch seconds); new_key_at: when the authorizer could first hold the new key."""

    setup: float  # the local API's start: the authorizer had fetched no keys yet
    start: float  # traffic starts
    old_kid: str
    new_kid: str
    outage: float  # keys fault about to be set
    rotated: float  # the new key signs from before this
    hang: float
    recovered: float  # faults cleared
    end: float
    new_key_at: float | None


def kid_of(token: str) -> str:
    """The kid in a token's header ('' if it has none or is not a JWS)."""
    try:
        return str(jwt.get_unverified_header(token).get("kid", ""))
    except jwt.PyJWTError:
        return ""


def wrong(call: Call, timeline: Timeline) -> str | None:
    """Why this answer is wrong (see the module docstring), or None if it is right."""
    if call.status == 0:
        return "no answer"
    if call.status >= 500:
        return f"{call.status} while the authorizer held valid keys"
    if call.kind != GOOD:
        return None if call.status == 401 else f"{call.status} for a bad token ({call.kind})"
    if call.status == 200:
        return None if call.names_caller else "200 not naming the caller"
    unfetched = timeline.new_key_at is None or call.sent <= timeline.new_key_at
    if call.status == 401 and call.kid == timeline.new_kid and unfetched:
        return None
    return f"{call.status} for a valid token whose key the authorizer held ({_kid_name(call.kid, timeline)})"


def _kid_name(kid: str, timeline: Timeline) -> str:
    return {timeline.old_kid: "old kid", timeline.new_kid: "new kid"}.get(kid, "unknown kid")


def new_key_at(keys: Sequence[KeysAnswer], rotated: float) -> float | None:
    """When the first fetch asked after the rotation reached the authorizer, if one did."""
    return min((k.answered for k in keys if k.received >= rotated and k.reached_authorizer), default=None)


class BadTokens:
    """Bad tokens made from a client's good one; the expired and wrong-audience ones signed by the issuer's key."""

    def __init__(self, keyring: KeyRing) -> None:
        self.keyring = keyring
        self.stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def make(self, kind: str, good: str) -> str:
        """A token of this bad kind."""
        if kind == "garbage":
            return ".".join(secrets.token_urlsafe(n) for n in (18, 120, 256))
        if kind == "tampered":
            return tamper(good)
        claims = jwt.decode(good, options={"verify_signature": False})
        if kind == "unknown-kid":
            kid, key = f"soak-{uuid.uuid4().hex}", self.stranger
        else:
            kid, key = self.keyring.signing_key()
        now = int(time.time())
        if kind == "expired":
            claims.update(iat=now - 7200, exp=now - 3600)
        elif kind == "wrong-audience":
            claims["aud"] = "api://not-this-api"
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


@dataclass
class Traffic:
    """What the workers share: the target, the bad-token maker, the clock and the outage switch."""

    url: str
    bad: BadTokens
    duration: float
    clients: int
    start: float = 0.0
    deadline: float = 0.0
    outage: threading.Event = field(default_factory=threading.Event)

    def begin(self) -> None:
        """Start the clock (run once every worker holds its tokens)."""
        self.start = time.time()
        self.deadline = self.start + 2 * self.duration + CALL_TIMEOUT


class Worker:
    """One client: its own service app and tokens, its share of the requests paced over the schedule."""

    def __init__(self, index: int, client: M2MClient, count: int, traffic: Traffic, barrier: threading.Barrier) -> None:
        self.index = index
        self.client = client
        self.count = count
        self.traffic = traffic
        self.barrier = barrier
        self.mixed = index % MIXED_EVERY == 0
        self.calls: list[Call] = []
        self.error = ""
        self.finished = False
        self._bad_sent = 0
        self._unknown_kid_sent = False

    def run(self) -> None:
        """Get a token and a reserve, wait for every worker, send; a failure is kept in self.error (never a token)."""
        try:
            token, reserve = self.client.token(fresh=True), self.client.token(fresh=True)
            self.barrier.wait()
            with requests.Session() as session:
                self._send_all(session, token, reserve)
        except threading.BrokenBarrierError:
            self.error = "the clients could not all start"
        except ClientError as exc:
            self.error = f"client {self.index}: {exc}"
            self.barrier.abort()

    def _send_all(self, session: requests.Session, token: str, reserve: str | None) -> None:
        traffic = self.traffic
        interval = traffic.duration / max(self.count, 1)
        offset = interval * self.index / traffic.clients  # the clients' sends spread over each interval
        uses, first = 0, True
        for number in range(self.count):
            now = time.time()
            if now >= traffic.deadline:
                return
            time.sleep(max(0.0, min(traffic.start + offset + number * interval, traffic.deadline) - now))
            if reserve is not None and traffic.outage.is_set():
                token, reserve, uses, first = reserve, None, TOKEN_USES - RESERVE_USES, True
            elif uses >= TOKEN_USES:
                token, uses, first = self.client.token(fresh=True), 0, True
            if self.mixed and number % 2:
                kind = self._next_bad_kind()
                self.calls.append(self._call(session, kind, traffic.bad.make(kind, token), False))
            else:
                self.calls.append(self._call(session, GOOD, token, first))
                uses, first = uses + 1, False
        self.finished = True

    def _next_bad_kind(self) -> str:
        outage = self.traffic.outage.is_set()
        if outage and not self._unknown_kid_sent:
            self._unknown_kid_sent = True  # at once: the authorizer's refetch must meet the failing keys endpoint
            return "unknown-kid"
        kinds = BAD_KINDS if outage else BAD_KINDS[:-1]
        self._bad_sent += 1
        return kinds[(self._bad_sent + self.index) % len(kinds)]

    def _call(self, session: requests.Session, kind: str, token: str, first: bool) -> Call:
        sent, began = time.time(), time.perf_counter()
        try:
            response = session.get(self.traffic.url, headers={"Authorization": f"Bearer {token}"}, timeout=CALL_TIMEOUT)
            status = response.status_code
            names_caller = status == 200 and response.json() == {**HELLO, "clientId": self.client.config.client_id}
        except (requests.RequestException, ValueError):
            status, names_caller = 0, False
        return Call(self.index, kind, kid_of(token), first, sent, time.perf_counter() - began, status, names_caller)


def set_faults(stack: LocalStack, *flags: str) -> None:
    """Replace the local Okta server's faults with `python -m okta_local faults` (its JSON echo is not shown)."""
    with contextlib.redirect_stdout(io.StringIO()):
        status = okta_cli.main(["faults", "--state-dir", str(stack.okta_dir), *flags])
    if status != 0:
        raise StackError(f"could not set the local Okta server's faults {' '.join(flags) or '(none)'}")


def keys_log(stack: LocalStack, since: float) -> list[KeysAnswer]:
    """The keys endpoint's answers to requests that came since `since` (epoch seconds), oldest first."""
    headers = {"Authorization": f"SSWS {stack.okta['OKTA_API_TOKEN']}", "Accept": "application/json"}
    response = requests.get(f"{stack.okta_url}{KEYS_LOG_PATH}", headers=headers, timeout=10)
    if response.status_code != 200:
        raise StackError(f"the local Okta server's keys log answered {response.status_code}")
    answers = sorted((KeysAnswer(**entry) for entry in response.json()["requests"]), key=lambda k: k.received)
    return [answer for answer in answers if answer.received >= since]


def policy_budget(stack: LocalStack) -> tuple[int, float]:
    """How many more policies API calls the local Okta allows in its current minute, and when the next one starts
    (epoch seconds), from the rate-limit headers of a read of the clients policy (which takes one call)."""
    okta = stack.okta
    path = f"/api/v1/authorizationServers/default/policies/{okta['OKTA_CLIENTS_POLICY_ID']}"
    headers = {"Authorization": f"SSWS {okta['OKTA_API_TOKEN']}", "Accept": "application/json"}
    response = requests.get(f"{okta['OKTA_ORG_URL']}{path}", headers=headers, timeout=10)
    return int(response.headers["X-Rate-Limit-Remaining"]), float(response.headers["X-Rate-Limit-Reset"])


def register_clients(stack: LocalStack, count: int) -> list[M2MClient]:
    """Register `count` service apps through POST /register (as the admin client); return a client for each.

    A registration takes two Apps API calls (a search, a create), whose limit a fault raises for the set-up, and
    POLICY_CALLS policies API calls (the enrolment), whose limit a fault cannot raise: as many registrations as the
    minute allows go at once, then the next minute is waited for."""
    okta = stack.okta
    admin = client_for(
        okta, stack.api_url, okta["ADMIN_CLIENT_ID"], okta["ADMIN_CLIENT_SECRET"], okta["REGISTER_SCOPE"]
    )
    set_faults(stack, "--apps-rate-limit", str(2 * count + 10))
    try:
        run_id = uuid.uuid4().hex[:8]
        created: list[dict[str, str]] = []
        while len(created) < count:
            remaining, reset = policy_budget(stack)
            if remaining < POLICY_CALLS:
                _sleep_until(reset + 0.1)
                continue
            batch = range(len(created), min(count, len(created) + remaining // POLICY_CALLS))
            created += [admin.register(f"soak-{run_id}-{i}") for i in batch]
    finally:
        set_faults(stack)
    return [client_for(okta, stack.api_url, c["client_id"], c["client_secret"], okta["HELLO_SCOPE"]) for c in created]


def _sleep_until(when: float) -> None:
    time.sleep(max(0.0, when - time.time()))


@dataclass(frozen=True)
class Marks:
    """When the schedule's steps were taken (epoch seconds), and the new kid ('' if the schedule never ran)."""

    outage: float
    rotated: float
    hang: float
    recovered: float
    new_kid: str

    @classmethod
    def none(cls) -> Marks:
        """The schedule did not run."""
        now = time.time()
        return cls(now, now, now, now, "")


def play(stack: LocalStack, store: Store, traffic: Traffic, schedule: Schedule) -> Marks:
    """Run the schedule's faults and rotation; return when each happened and the new kid."""
    _sleep_until(traffic.start + schedule.outage)
    outage = time.time()
    set_faults(stack, "--keys", "fail")
    new_kid = rotate_keys(store)  # as `python -m okta_local rotate-keys`: the old key stays published for a day
    rotated = time.time()
    traffic.outage.set()
    _sleep_until(traffic.start + schedule.hang)
    set_faults(stack, "--keys", "hang")
    hang = time.time()
    _sleep_until(traffic.start + schedule.recover)
    set_faults(stack)
    return Marks(outage, rotated, hang, time.time(), new_kid)


def shares(total: int, clients: int) -> list[int]:
    """Split total requests over the clients as evenly as possible."""
    return [total // clients + (i < total % clients) for i in range(clients)]


@dataclass
class Report:
    """A run's calls, the issuer's keys log and the timeline: judged, checked and printed."""

    settings: Settings
    timeline: Timeline
    calls: list[Call]
    keys: list[KeysAnswer]
    errors: list[str]
    unfinished: int

    def wrong(self) -> list[tuple[Call, str]]:
        """Every wrong answer with its reason."""
        judged = ((call, wrong(call, self.timeline)) for call in self.calls)
        return [(call, reason) for call, reason in judged if reason is not None]

    def good(self, kid: str | None = None, since: float = 0.0, until: float = float("inf")) -> list[Call]:
        """The good-token calls (with this kid) sent in [since, until)."""
        return [c for c in self.calls if c.kind == GOOD and kid in (None, c.kid) and since <= c.sent < until]

    def bad(self) -> list[Call]:
        """The bad-token calls."""
        return [c for c in self.calls if c.kind != GOOD]

    def failed_fetches(self) -> list[KeysAnswer]:
        """Keys fetches that failed during the outage."""
        t = self.timeline
        return [k for k in self.keys if k.failed and t.outage <= k.received < t.recovered]

    def steps(self) -> list[Step]:
        """The checks besides the answers: each phase happened, the refetch rule held, every request was answered."""
        t = self.timeline
        new_kid = self.good(kid=t.new_kid)
        reserve = [c for c in self.good(kid=t.old_kid, since=t.outage, until=t.recovered) if c.first_use]
        new_after = self.good(kid=t.new_kid, since=t.recovered)
        bad_kinds = Counter(c.kind for c in self.bad())
        failed = self.failed_fetches()
        delay = t.new_key_at - t.recovered if t.new_key_at is not None else None
        refetches = self.keys[1:]  # after the first fetch, every fetch is a refetch
        gaps = [
            (later.received - earlier.received, MISS_COOLDOWN if earlier.reached_authorizer else FAILURE_BACKOFF)
            for earlier, later in zip(refetches, refetches[1:], strict=False)
        ]
        return [
            Step(
                "the authorizer's first keys fetch succeeded (set-up)",
                bool(self.keys) and self.keys[0].reached_authorizer,
                f"{len(self.keys)} keys requests in all",
            ),
            Step("signing key rotated", t.new_kid not in ("", t.old_kid) and bool(new_kid), f"{len(new_kid)} calls"),
            Step("the outage made a keys fetch fail", bool(failed), f"{len(failed)} failed"),
            Step("old-kid tokens first used in the outage", bool(reserve), f"{len(reserve)} calls"),
            Step(
                "every bad kind sent, all refused with 401",
                set(bad_kinds) == set(BAD_KINDS) and all(c.status == 401 for c in self.bad()),
                ", ".join(f"{kind} {bad_kinds[kind]}" for kind in BAD_KINDS),
            ),
            Step(
                "new key accepted after the outage",
                any(c.status == 200 for c in new_after),
                f"{sum(c.status == 200 for c in new_after)} of {len(new_after)} new-kid calls after it allowed",
            ),
            Step(
                "new key fetched within a failure back-off of the recovery",
                delay is not None and delay <= FAILURE_BACKOFF + AUTHORIZER_FETCH_TIMEOUT + CLOCK_SLACK,
                "never" if delay is None else f"{delay:.1f} s after it",
            ),
            Step(
                "refetches a minute after one that worked, the back-off after one that failed",
                all(gap >= least - CLOCK_SLACK for gap, least in gaps),
                ", ".join(f"{gap:.1f} s (>= {least:.0f})" for gap, least in gaps) or "fewer than two refetches",
            ),
            Step(
                "every request sent and answered",
                not self.errors and not self.unfinished and all(c.status for c in self.calls),
                "; ".join(self.errors[:3]) or f"{len(self.calls)} calls, {self.unfinished} clients unfinished",
            ),
        ]

    @property
    def passed(self) -> bool:
        """0 wrong answers and every check passed."""
        return not self.wrong() and all(step.passed for step in self.steps())

    def lines(self) -> Iterator[str]:
        """The printed report (no token, no secret)."""
        s, t = self.settings, self.timeline
        ttl = "template default" if s.authorizer_cache_ttl is None else f"{s.authorizer_cache_ttl} s"
        mixed = len(range(0, s.clients, MIXED_EVERY))
        yield (
            f"soak: {s.clients} clients ({mixed} also sending bad tokens), {len(self.calls)} of {s.requests} requests"
            f" in {t.end - t.start:.1f} s; authorizer cache TTL {ttl}"
        )
        fetched = "never" if t.new_key_at is None else f"{t.new_key_at - t.start:.1f}"
        yield (
            f"timeline (s): keys fail + rotation {t.outage - t.start:.1f}, hang {t.hang - t.start:.1f}, recovered "
            f"{t.recovered - t.start:.1f}, new key fetched {fetched}; kid {t.old_kid[:8]}... -> {t.new_kid[:8]}..."
        )
        yield f"keys requests the issuer answered: {self._keys_summary()}"
        kinds = Counter(_answer_kind(c.status) for c in self.calls)
        yield "answers: " + ", ".join(f"{kind} {kinds[kind]}" for kind in ANSWER_KINDS)
        good = self.good()
        early = sum(c.status == 401 for c in self.good(kid=t.new_kid))
        yield (
            f"good-token calls {len(good)} ({sum(c.first_use for c in good)} first calls of a token), bad-token calls "
            f"{len(self.bad())}; new-kid 401s before the new key was fetched (right, see the docstring): {early}"
        )
        if len(self.calls) >= 2:
            everything = self._result("all", self.calls, t.end - t.start)
            yield f"latency: p50 {everything.percentile(50):.1f} ms, p99 {everything.percentile(99):.1f} ms"
        yield f"{'phase':<38}{'rps':>9}{'p50 ms':>10}{'p99 ms':>10}{'wrong':>8}"
        yield from self._phase_rows()
        yield from (step.line() for step in self.steps())
        found = self.wrong()
        for call, reason in found[:SHOWN_WRONG]:
            yield f"WRONG at {call.sent - t.start:.2f} s, client {call.worker}, {call.kind} token: {reason}"
        if len(found) > SHOWN_WRONG:
            yield f"... and {len(found) - SHOWN_WRONG} more wrong answers"
        yield f"{'PASS' if self.passed else 'FAIL'}: {len(found)} wrong answers"

    def _keys_summary(self) -> str:
        reached = sum(k.reached_authorizer for k in self.keys)
        late = sum(k.status == 200 and k.failed for k in self.keys)
        errors = Counter(k.status for k in self.keys if k.status != 200)
        shown = "".join(f", {n} answered {status}" for status, n in sorted(errors.items()))
        each = ", ".join(
            f"{k.received - self.timeline.start:.1f} s {k.status}" + (f" ({k.fault})" if k.fault else "")
            for k in self.keys
        )
        return f"{len(self.keys)}: {reached} in time, {late} after the authorizer's timeout{shown} [{each}]"

    def _result(self, label: str, calls: Sequence[Call], seconds: float) -> Result:
        wrong_count = sum(wrong(c, self.timeline) is not None for c in calls)
        return Result(label, max(seconds, 1e-9), [c.seconds for c in calls], wrong_count)

    def _phase_rows(self) -> Iterator[str]:
        t = self.timeline
        fetched = max(t.new_key_at if t.new_key_at is not None else t.end, t.recovered)
        bounds = [
            ("steady", t.start, t.outage),
            ("outage (keys fail, then hang)", t.outage, t.recovered),
            ("recovered, new key not fetched yet", t.recovered, fetched),
            ("new key fetched", fetched, t.end),
        ]
        for label, since, until in bounds:
            calls = [c for c in self.calls if since <= c.sent < until]
            if len(calls) < 2:  # Result.percentile needs two values
                yield f"{label:<38}{len(calls):>9} calls"
            else:
                yield self._result(label, calls, until - since).row()


ANSWER_KINDS = ("200 allow", "401", "403", "5xx", "other", "no answer")


def _answer_kind(status: int) -> str:
    named = {0: "no answer", 200: "200 allow", 401: "401", 403: "403"}
    return named.get(status) or ("5xx" if status >= 500 else "other")


def soak(stack: LocalStack, settings: Settings) -> Report:
    """Register the clients, run the traffic and the schedule on a started stack, and return the judged report."""
    store = Store(stack.okta_dir / DB_FILE)  # okta_local's state: the issuer's keys, to sign bad tokens and rotate
    try:
        keyring = KeyRing(store)
        old_kid, _ = keyring.signing_key()
        # The local API's start: the stack's own start-up already calls through the authorizer (the demo client's
        # adoption), so that is where the authorizer's first keys fetch is.
        setup = stack.api_started_at
        clients = register_clients(stack, settings.clients)
        traffic = Traffic(f"{stack.api_url}/hello", BadTokens(keyring), settings.schedule.duration, len(clients))
        barrier = threading.Barrier(len(clients) + 1, action=traffic.begin, timeout=60)
        counts = shares(settings.requests, len(clients))
        workers = [Worker(i, client, counts[i], traffic, barrier) for i, client in enumerate(clients)]
        threads = [threading.Thread(target=w.run, name=f"soak-{w.index}", daemon=True) for w in workers]
        for thread in threads:
            thread.start()
        try:
            barrier.wait()
            marks = play(stack, store, traffic, settings.schedule)
        except threading.BrokenBarrierError:
            traffic.begin()
            marks = Marks.none()
        finally:
            traffic.outage.set()
            set_faults(stack)
        for thread in threads:  # every worker stops by the deadline; a call may take CALL_TIMEOUT beyond it
            thread.join(timeout=max(0.0, traffic.deadline + CALL_TIMEOUT - time.time()))
        end = time.time()
        keys = keys_log(stack, setup)
    finally:
        store.close()
    t = marks
    timeline = Timeline(
        setup,
        traffic.start,
        old_kid,
        t.new_kid,
        t.outage,
        t.rotated,
        t.hang,
        t.recovered,
        end,
        new_key_at(keys, t.rotated),
    )
    calls = sorted((call for w in workers for call in w.calls), key=lambda c: c.sent)
    errors = sorted((w.error for w in workers if w.error), key=lambda e: e.startswith("the clients could not"))
    return Report(settings, timeline, calls, keys, errors, sum(not w.finished for w in workers))


def run(settings: Settings, state_dir: Path) -> Report:
    """Start a private stack on free ports with its state in state_dir, soak it, stop it; return the report."""
    overrides = dict(SOAK_LIMITS)
    if settings.authorizer_cache_ttl is not None:
        overrides["AuthorizerCacheTtl"] = str(settings.authorizer_cache_ttl)
    ports = Ports(api=free_port(), okta=free_port(), moto=free_port())
    stack = LocalStack(state_dir, ports=ports, parameter_overrides=overrides, api_env=SOAK_API_ENV)
    with stack:
        return soak(stack, settings)


def build_parser() -> argparse.ArgumentParser:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, help="concurrent clients, each its own service app (default 50)")
    parser.add_argument("--requests", type=int, help=f"requests in all (default {FULL_REQUESTS})")
    parser.add_argument(
        "--short", action="store_true", help=f"CI size: {SHORT_CLIENTS} clients, {SHORT_REQUESTS} requests, same phases"
    )
    parser.add_argument(
        "--authorizer-cache-ttl", type=int, help="override AuthorizerCacheTtl (0 runs the authorizer on every call)"
    )
    return parser


def parse_settings(argv: Sequence[str] | None = None) -> Settings:
    """The run's settings from the command line: --short sizes, unless --clients or --requests say otherwise."""
    parser = build_parser()
    args = parser.parse_args(argv)
    clients = args.clients or (SHORT_CLIENTS if args.short else FULL_CLIENTS)
    requests_total = args.requests or (SHORT_REQUESTS if args.short else FULL_REQUESTS)
    if clients < 1 or requests_total < clients:
        parser.error("--clients must be at least 1 and --requests at least --clients")
    return Settings(clients, requests_total, SHORT if args.short else FULL, args.authorizer_cache_ttl)


def main(argv: Sequence[str] | None = None) -> int:
    """Soak a private stack, print the report; exit 0 on PASS, 1 on any wrong answer or failed check."""
    settings = parse_settings(argv)
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        try:
            report = run(settings, Path(tmp) / "state")
        except (StackError, ClientError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    for line in report.lines():
        print(line)
    print(f"run time {time.monotonic() - began:.1f} s (stack start and stop included)")
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())

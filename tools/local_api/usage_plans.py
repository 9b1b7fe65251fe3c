"""API keys and usage plans, applied as API Gateway applies them to the routes that take a key from the authorizer.

A route requires a key when its API has ``ApiKeySourceType: AUTHORIZER`` and ``Auth.ApiKeyRequired`` is true (on
the API, or on the route's event, which wins). After the authorizer's Allow (fresh or cached), in this order
(API Gateway: the key is matched against the plan's keys, then the plan's rate limit and quota apply; otherwise
403):

1. The key: the authorizer's ``usageIdentifierKey``, looked up by value among the API keys of the API Gateway in
   AWS_ENDPOINT_URL_API_GATEWAY (moto's server, locally). No key named, an unknown value, a disabled key, or a key
   in no usage plan of the route's API: INVALID_API_KEY. A plan is the API's when the template declares it (an
   AWS::ApiGateway::UsagePlan whose ApiStages name the API) and the endpoint holds it under the template's name
   for it (its logical id, or UsagePlanName), as tools/devstack makes them in moto.
2. The throttle: a token bucket per key and plan, burstLimit tokens, refilled at rateLimit a second; a request
   finding no token is THROTTLED and takes none.
3. The quota: limit requests per period (DAY: the UTC day; WEEK: from Sunday 00:00 UTC; MONTH: from the 1st,
   00:00 UTC), the offset subtracted in the first period this process meters the key. Only requests passed on to
   the function count: a throttled request, or one refused for the quota, does not (AWS documents neither way).

Key state (the keys with their values and enabled flag, the API's plans with their limits and keys) is one snapshot
of the endpoint, read again once it is KEY_STATE_TTL (1 s) old, and at once for a key value it does not hold: a key
disabled on revocation is refused within a second, a key made a moment ago is found on its first request. Counters
live in this process only (a restart starts every bucket full and every quota at zero). Thread-safe.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

LOG = logging.getLogger("local_api.usage_plans")

API_GATEWAY_ENDPOINT = "AWS_ENDPOINT_URL_API_GATEWAY"
KEY_STATE_TTL = 1.0  # seconds a snapshot of the keys and plans is used before it is read again
# Gateway response types of the refusals (local_api.gateway answers them).
INVALID_API_KEY = "INVALID_API_KEY"
THROTTLED = "THROTTLED"
QUOTA_EXCEEDED = "QUOTA_EXCEEDED"
# Credentials when the environment has none: moto accepts any (as SAM CLI gives its containers placeholders).
PLACEHOLDER_CREDENTIALS = ("local", "local")


class KeyStoreError(Exception):
    """The API Gateway holding the keys could not be read (the message names the call, never a key value)."""


@dataclass(frozen=True)
class Quota:
    """A usage plan's quota: limit requests per period, offset fewer in the first one."""

    limit: int
    period: str = "DAY"
    offset: int = 0


@dataclass(frozen=True)
class Plan:
    """A usage plan as the endpoint holds it: throttle (rateLimit, burstLimit) and quota, each optional."""

    id: str
    name: str
    throttle: tuple[float, float] | None = None
    quota: Quota | None = None

    @classmethod
    def from_api(cls, item: Mapping[str, Any]) -> Plan:
        """A plan from a GetUsagePlans item."""
        throttle, quota = item.get("throttle") or {}, item.get("quota") or {}
        limits = None
        if "rateLimit" in throttle and "burstLimit" in throttle:
            limits = (float(throttle["rateLimit"]), float(throttle["burstLimit"]))
        counted = None
        if "limit" in quota:
            counted = Quota(int(quota["limit"]), str(quota.get("period", "DAY")), int(quota.get("offset", 0)))
        return cls(str(item["id"]), str(item.get("name", "")), limits, counted)


@dataclass(frozen=True)
class ApiKey:
    """An API key: its id, whether it is enabled, the ids of the API's plans it is in."""

    id: str
    enabled: bool
    plan_ids: frozenset[str]


@dataclass(frozen=True)
class Snapshot:
    """The endpoint's keys (by value) and the API's plans (by id), as read from `taken` (time.monotonic) on."""

    taken: float
    keys: Mapping[str, ApiKey]
    plans: Mapping[str, Plan]


def api_gateway_client(endpoint: str, environ: Mapping[str, str] = os.environ) -> Any:
    """A boto3 API Gateway client of the endpoint: credentials and region from the environment, else placeholders."""
    import boto3
    from botocore.config import Config

    key, secret = environ.get("AWS_ACCESS_KEY_ID"), environ.get("AWS_SECRET_ACCESS_KEY")
    token = environ.get("AWS_SESSION_TOKEN") if key and secret else None
    if not (key and secret):
        key, secret = PLACEHOLDER_CREDENTIALS
    config = Config(connect_timeout=2, read_timeout=5, retries={"mode": "standard", "total_max_attempts": 2})
    return boto3.client(
        "apigateway",
        endpoint_url=endpoint,
        region_name=environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or "us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        aws_session_token=token,
        config=config,
    )


class KeyStore:
    """The endpoint's API keys and the API's usage plans, never more than `ttl` seconds old."""

    def __init__(
        self,
        client: Any,
        plan_names: frozenset[str],
        ttl: float = KEY_STATE_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self.plan_names = plan_names
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None

    def lookup(self, value: str) -> tuple[ApiKey | None, Mapping[str, Plan]]:
        """The key with this value (None if there is none) and the API's plans by id."""
        asked = self._clock()
        with self._lock:  # one read at a time; a request that waited for one uses it if it began after it came
            snapshot = self._snapshot
            if (
                snapshot is None
                or asked - snapshot.taken > self._ttl
                or (value not in snapshot.keys and snapshot.taken < asked)
            ):
                snapshot = self._snapshot = self._read()
        return snapshot.keys.get(value), snapshot.plans

    def _read(self) -> Snapshot:
        taken = self._clock()
        found = map(Plan.from_api, self._items("get_usage_plans"))
        plans = {plan.id: plan for plan in found if plan.name in self.plan_names}
        members: dict[str, set[str]] = {}
        for plan_id in plans:
            for item in self._items("get_usage_plan_keys", usagePlanId=plan_id):
                members.setdefault(str(item["id"]), set()).add(plan_id)
        keys = {}
        for item in self._items("get_api_keys", includeValues=True):
            key_id = str(item["id"])
            keys[str(item.get("value", ""))] = ApiKey(
                key_id, bool(item.get("enabled")), frozenset(members.get(key_id, []))
            )
        keys.pop("", None)
        return Snapshot(taken, keys, plans)

    def _items(self, operation: str, **kwargs: Any) -> Iterator[Mapping[str, Any]]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            for page in self._client.get_paginator(operation).paginate(**kwargs):
                yield from page.get("items", [])
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            raise KeyStoreError(f"API Gateway {operation}: refused ({code})") from None
        except BotoCoreError as exc:
            raise KeyStoreError(f"API Gateway {operation}: unreachable ({type(exc).__name__})") from None


def period_start(period: str, now: datetime) -> datetime:
    """The start (UTC) of the quota period holding `now`: the day, the week from Sunday, the month from the 1st."""
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "WEEK":
        return day - timedelta(days=(day.weekday() + 1) % 7)  # weekday(): Monday 0 ... Sunday 6
    if period == "MONTH":
        return day.replace(day=1)
    return day


@dataclass
class _Bucket:
    tokens: float
    updated: float

    def take(self, rate: float, burst: float, now: float) -> bool:
        self.tokens = min(burst, self.tokens + max(0.0, now - self.updated) * rate)
        self.updated = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


@dataclass
class _Count:
    period: datetime
    used: int = 0
    first: bool = True  # the first period this process meters the key: the offset applies


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Limiter:
    """Throttle then quota, per (key, plan); thread-safe. `clock` paces the buckets, `utc_now` the quota periods."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, utc_now: Callable[[], datetime] = _utc_now) -> None:
        self._clock = clock
        self._utc_now = utc_now
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._counts: dict[tuple[str, str], _Count] = {}

    def admit(self, key_id: str, plan: Plan) -> str | None:
        """None if the request may go on (it is counted), else THROTTLED or QUOTA_EXCEEDED."""
        with self._lock:
            if not self._throttle_allows((key_id, plan.id), plan.throttle):
                return THROTTLED
            if not self._quota_allows((key_id, plan.id), plan.quota):
                return QUOTA_EXCEEDED
            return None

    def _throttle_allows(self, key: tuple[str, str], throttle: tuple[float, float] | None) -> bool:
        if throttle is None:
            return True
        rate, burst = throttle
        now = self._clock()
        bucket = self._buckets.setdefault(key, _Bucket(burst, now))
        return bucket.take(rate, burst, now)

    def _quota_allows(self, key: tuple[str, str], quota: Quota | None) -> bool:
        if quota is None:
            return True
        period = period_start(quota.period, self._utc_now())
        count = self._counts.get(key)
        if count is None:
            count = self._counts[key] = _Count(period)
        elif count.period != period:
            count = self._counts[key] = _Count(period, first=False)
        if count.used >= quota.limit - (quota.offset if count.first else 0):
            return False
        count.used += 1
        return True


@dataclass(frozen=True)
class Admission:
    """The verdict on one request: its key's id ('' if none was found) and the refusal's type (None: admitted)."""

    key_id: str = ""
    refusal: str | None = None


class UsagePlans:
    """The key check, throttle and quota of routes that require a key: `admit` decides one request."""

    def __init__(self, store: KeyStore, limiter: Limiter | None = None) -> None:
        self.store = store
        self.limiter = limiter or Limiter()

    @classmethod
    def from_environment(cls, plan_names: frozenset[str], environ: Mapping[str, str] = os.environ) -> UsagePlans:
        """Keys and plans from the endpoint in AWS_ENDPOINT_URL_API_GATEWAY; ValueError if it is unset."""
        endpoint = environ.get(API_GATEWAY_ENDPOINT, "").strip()
        if not endpoint:
            raise ValueError(
                "routes require an API key from the authorizer (ApiKeySourceType AUTHORIZER): set "
                f"{API_GATEWAY_ENDPOINT} to the API Gateway holding the keys and usage plans (moto's server, as"
                " make dev does)"
            )
        LOG.info("API keys and usage plans from %s (state at most %.0f s old)", endpoint, KEY_STATE_TTL)
        return cls(KeyStore(api_gateway_client(endpoint, environ), plan_names))

    def admit(self, value: str | None, plan_names: frozenset[str]) -> Admission:
        """Check the key `value` against the route's plans (by name), then throttle and count it; KeyStoreError if
        the keys cannot be read."""
        if not value:
            LOG.info("api key refused: the authorizer named none")
            return Admission(refusal=INVALID_API_KEY)
        key, plans = self.store.lookup(value)
        if key is None:
            LOG.info("api key refused: no key has the authorizer's value")
            return Admission(refusal=INVALID_API_KEY)
        if not key.enabled:
            LOG.info("api key refused: key=%s is disabled", key.id)
            return Admission(key.id, INVALID_API_KEY)
        mine = sorted((plans[i] for i in key.plan_ids if plans[i].name in plan_names), key=lambda plan: plan.id)
        if not mine:
            LOG.info("api key refused: key=%s is in no usage plan of the API", key.id)
            return Admission(key.id, INVALID_API_KEY)
        refusal = self.limiter.admit(key.id, mine[0])
        if refusal is not None:
            LOG.info("key=%s %s", key.id, refusal)
        return Admission(key.id, refusal)

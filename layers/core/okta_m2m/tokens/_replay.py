"""Each DPoP proof accepted once (RFC 9449 section 11.1), across every container of the authorizer.

A per-container cache answers for the proofs this container has seen; the others are claimed in a DynamoDB table
shared by all containers, with one conditional PutItem: the item is written only if no live item holds the proof's
key, so of two containers racing on one proof exactly one wins. Each item carries `expires_at`, the moment its proof
is too old to pass anyway; DynamoDB's TTL deletes it some time after (possibly days), and until then the condition
lets a later proof with the same key through once that moment has passed.

The key is a SHA-256 of the proof key's thumbprint and the jti: two clients that pick the same jti do not collide,
and the table holds no client's jti. A proof whose store cannot be asked is refused (ReplayStoreUnavailableError:
the authorizer answers 503), unless DPOP_REPLAY_FAIL_OPEN lets the container's own cache answer alone.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol

from okta_m2m.errors import ReplayStoreUnavailableError, TokenError
from okta_m2m.tokens._digest import sha256
from okta_m2m.tokens._dpop import Proof, b64url
from okta_m2m.tokens._fetch import HttpError, KeepAlive
from okta_m2m.tokens._log_format import child_logger
from okta_m2m.tokens._settings import DpopSettings
from okta_m2m.tokens._sigv4 import Credentials, Signer

logger = child_logger(__name__)

STORE_TIMEOUT_SECONDS = 1.0  # a PutItem takes milliseconds; past a second, answer 503 rather than hold the caller
_TARGET = "DynamoDB_20120810.PutItem"
_CONDITION = "attribute_not_exists(pk) OR expires_at < :now"
_CONDITION_FAILED = "ConditionalCheckFailedException"


class ReplayStore(Protocol):
    """Where proofs are claimed: True if this is the proof key's first use before `until`."""

    def claim(self, key: str, until: int, now: float) -> bool: ...


def replay_key(proof: Proof) -> str:
    """The store's key of a proof: base64url(SHA-256(jkt "." jti)), 43 characters whatever the jti."""
    return b64url(sha256(f"{proof.jkt}.{proof.jti}".encode()))


class SeenProofs:
    """The proof keys this container has claimed (or seen refused), each until its proof is too old anyway."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self.max_entries = max_entries
        self._until: OrderedDict[str, float] = OrderedDict()  # by insertion: roughly by expiry

    def holds(self, key: str, now: float) -> bool:
        """Whether the key was claimed here and its proof could still pass."""
        until = self._until.get(key)
        return until is not None and now <= until

    def add(self, key: str, until: float, now: float) -> None:
        """Remember a key until `until`; the expired and, past max_entries, the oldest entries go."""
        while self._until and (len(self._until) >= self.max_entries or next(iter(self._until.values())) < now):
            self._until.popitem(last=False)
        self._until[key] = until


class DynamoDbReplayStore:
    """Claims proof keys in a DynamoDB table (partition key `pk`, TTL attribute `expires_at`) with a conditional
    PutItem, signed with SigV4 and sent over a kept-alive connection."""

    def __init__(
        self,
        table: str,
        region: str,
        endpoint: str,
        credentials: Credentials,
        *,
        timeout: float = STORE_TIMEOUT_SECONDS,
    ) -> None:
        self.table = table
        self.timeout = timeout
        self.connection = KeepAlive(endpoint)
        self.signer = Signer("dynamodb", region, credentials)

    def claim(self, key: str, until: int, now: float) -> bool:
        """True if the key was not held by a live item (now it is, until `until`); False if it was."""
        # A writer mark of this request: if its answer was lost and KeepAlive sent it again, the second write finds
        # the first one's item, which is ours, and the proof is still new.
        writer = b64url(os.urandom(12))
        body = json.dumps(
            {
                "TableName": self.table,
                "Item": {"pk": {"S": key}, "expires_at": {"N": str(until)}, "writer": {"S": writer}},
                "ConditionExpression": _CONDITION,
                "ExpressionAttributeValues": {":now": {"N": str(math.floor(now))}},
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            },
            separators=(",", ":"),
        ).encode()
        headers = [("Content-Type", "application/x-amz-json-1.0"), ("X-Amz-Target", _TARGET)]
        signed = self.signer.sign("POST", self.connection.host, "/", headers, body, now)
        try:
            status, answer = self.connection.post("/", signed, body, self.timeout)
        except HttpError as exc:
            raise ReplayStoreUnavailableError(f"replay store unreachable: {exc.reason}") from None
        if status == 200:
            return True
        error = _error(answer)
        if status == 400 and error.get("__type", "").rpartition("#")[2] == _CONDITION_FAILED:
            held_by = (error.get("Item") or {}).get("writer", {}).get("S")
            return bool(held_by == writer)
        # Throttling, a missing table, refused credentials, a server error: the store cannot answer.
        kind = str(error.get("__type", "")).rpartition("#")[2][:80] or "no error type"
        raise ReplayStoreUnavailableError(f"replay store answered {status} ({kind})")


def _error(answer: bytes) -> dict[str, Any]:
    try:
        error = json.loads(answer)
    except ValueError:
        return {}
    return error if isinstance(error, dict) else {}


class ProofReplay:
    """Uses each proof once: this container's cache first, then the shared store."""

    def __init__(self, store: ReplayStore, *, fail_open: bool = False, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.fail_open = fail_open
        self.clock = clock
        self.seen = SeenProofs()

    @classmethod
    def from_settings(cls, settings: DpopSettings) -> ProofReplay:
        """The replay check the settings describe: their table, region, endpoint and credentials."""
        store = DynamoDbReplayStore(
            settings.replay_table, settings.region, settings.dynamodb_endpoint, Credentials(*settings.credentials)
        )
        return cls(store, fail_open=settings.replay_fail_open)

    def use(self, proof: Proof, until: float) -> None:
        """Use the proof, good until `until`; TokenError if it was used before, ReplayStoreUnavailableError if the
        store cannot tell (and failing open is not allowed)."""
        key = replay_key(proof)
        now = self.clock()
        if self.seen.holds(key, now):
            raise TokenError("proof already used")
        try:
            first = self.store.claim(key, math.ceil(until), now)
        except ReplayStoreUnavailableError as exc:
            if not self.fail_open:
                raise
            logger.warning("replay store unavailable, failing open", reason=str(exc))
            first = True
        self.seen.add(key, until, now)
        if not first:
            raise TokenError("proof already used")

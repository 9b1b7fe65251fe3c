"""The client registry: one DynamoDB item per client this API manages, and one claim per label.

Items (partition key `pk`):
- `client#{client_id}`: the client (`Client`), with `kind` = "client" for the `by_kind` index that lists them;
- `label#{label}`: who holds the label. A registration writes it as `pending` before it calls Okta (the write is
  conditional, so of many registrations of one label exactly one goes on), then `bound` to its client in the same
  transaction that writes the client. Revocation `released` it, so the label can be registered again. Pending
  claims carry `kind` = "pending" too, so an operator can list them by the index.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger

from okta_m2m.clients._locks import dynamodb
from okta_m2m.errors import InvalidRequestError, RegistryUnavailableError

logger = Logger(child=True)

__all__ = ["Client", "LabelClaim", "Registry", "iso_now"]

INDEX = "by_kind"
ACTIVE, REVOKED = "active", "revoked"
PENDING, BOUND, RELEASED = "pending", "bound", "released"
MAX_PAGE_TOKEN_CHARS = 1024


def iso_now(clock: Callable[[], float] = time.time) -> str:
    """UTC time as ISO 8601 with milliseconds, e.g. 2026-12-01T23:40:00.123Z (sorts as it reads)."""
    return datetime.fromtimestamp(clock(), UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Client:
    """A client of the registry; it never holds a secret."""

    client_id: str
    app_id: str
    label: str
    status: str  # active, revoked
    created_at: str
    created_by: str | None  # the caller's client id
    origin: str  # registered (POST /register) or adopted (PUT /clients/{clientId})
    revoked_at: str | None = None
    revoked_by: str | None = None
    dpop: bool = False  # its Okta app requires DPoP: its tokens are DPoP-bound (RFC 9449)

    def as_dict(self) -> dict[str, Any]:
        """The client as the API shows it."""
        return {name: value for name, value in asdict(self).items() if value is not None or name == "created_by"}


@dataclass(frozen=True)
class LabelClaim:
    """Who holds a label: a registration in progress (pending), a client (bound), or nobody any more (released)."""

    label: str
    state: str
    owner: str  # the registration that wrote it
    started_at: float
    client_id: str | None = None


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _client_item(client: Client) -> dict[str, Any]:
    item: dict[str, Any] = {"pk": _s(f"client#{client.client_id}"), "kind": _s("client")}
    for name, value in asdict(client).items():
        if isinstance(value, bool):
            item[name] = {"BOOL": value}
        elif value is not None:
            item[name] = _s(value)
    return item


def _client(item: dict[str, Any]) -> Client:
    def text(name: str) -> str | None:
        return str(item[name]["S"]) if name in item else None

    return Client(
        client_id=item["client_id"]["S"],
        app_id=item["app_id"]["S"],
        label=item["label"]["S"],
        status=item["status"]["S"],
        created_at=item["created_at"]["S"],
        created_by=text("created_by"),
        origin=item["origin"]["S"],
        revoked_at=text("revoked_at"),
        revoked_by=text("revoked_by"),
        dpop=bool(item.get("dpop", {}).get("BOOL", False)),  # clients recorded before DPoP existed: false
    )


def _claim(item: dict[str, Any]) -> LabelClaim:
    return LabelClaim(
        label=item["label"]["S"],
        state=item["state"]["S"],
        owner=item["owner"]["S"],
        started_at=float(item["started_at"]["N"]),
        client_id=item["client_id"]["S"] if "client_id" in item else None,
    )


def _error_code(exc: Exception) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


def _cancelled(exc: Exception) -> list[str]:
    """The per-item reasons of a cancelled transaction ("None" where an item was fine)."""
    reasons = getattr(exc, "response", {}).get("CancellationReasons") or []
    return [str(reason.get("Code", "None")) for reason in reasons]


class ConditionFailed(Exception):
    """A conditional write found the item in another state; `reasons` has one code per item of a transaction."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__(", ".join(reasons))
        self.reasons = reasons


@contextmanager
def _dynamodb_errors(operation: str) -> Iterator[None]:
    """Turn a failed condition into ConditionFailed and anything else DynamoDB does into RegistryUnavailableError."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as exc:
        code = _error_code(exc)
        if code == "ConditionalCheckFailedException":
            raise ConditionFailed([code]) from None
        if code == "TransactionCanceledException" and "ConditionalCheckFailed" in _cancelled(exc):
            raise ConditionFailed(_cancelled(exc)) from None
        logger.error("client registry unavailable", operation=operation, error_code=code)
        raise RegistryUnavailableError(f"registry {operation}: DynamoDB refused ({code})") from None
    except BotoCoreError as exc:
        logger.error("client registry unavailable", operation=operation, error_type=type(exc).__name__)
        raise RegistryUnavailableError(f"registry {operation}: DynamoDB unreachable") from None


def encode_page_token(key: dict[str, Any]) -> str:
    """LastEvaluatedKey as an opaque, URL-safe `next` value."""
    plain = {name: value["S"] for name, value in key.items()}
    return base64.urlsafe_b64encode(json.dumps(plain, sort_keys=True).encode()).decode().rstrip("=")


def decode_page_token(token: str) -> dict[str, Any]:
    """Check and decode a `next` value; anything this API did not hand out is a 400."""
    bad = InvalidRequestError("next is not a page token this API gave out")
    if not 1 <= len(token) <= MAX_PAGE_TOKEN_CHARS:
        raise bad
    try:
        plain = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError):
        raise bad from None
    if (
        not isinstance(plain, dict)
        or set(plain) != {"pk", "kind", "created_at"}
        or not all(isinstance(value, str) for value in plain.values())
        or plain["kind"] != "client"
        or not plain["pk"].startswith("client#")
    ):
        raise bad
    return {name: _s(value) for name, value in plain.items()}


class Registry:
    """The registry table, through the container's DynamoDB client; every read is strongly consistent."""

    def __init__(self, table: str, clock: Callable[[], float] = time.time) -> None:
        self._table = table
        self._clock = clock
        self._client = dynamodb()

    def claim_label(self, label: str, owner: str, caller: str | None) -> LabelClaim | None:
        """Write a pending claim on label unless someone holds it; None if it is ours now, else the holder's claim."""
        item = {
            "pk": _s(f"label#{label}"),
            "kind": _s(PENDING),
            "label": _s(label),
            "state": _s(PENDING),
            "owner": _s(owner),
            "started_at": {"N": f"{self._clock():.3f}"},
            "created_at": _s(iso_now(self._clock)),
        }
        if caller:
            item["created_by"] = _s(caller)
        try:
            with _dynamodb_errors("claim label"):
                self._client.put_item(
                    TableName=self._table,
                    Item=item,
                    ConditionExpression="attribute_not_exists(pk) OR #state = :released",
                    ExpressionAttributeNames={"#state": "state"},
                    ExpressionAttributeValues={":released": _s(RELEASED)},
                )
        except ConditionFailed:
            held = self.label_claim(label)
            # Released between our write and our read: the caller tries again.
            return held or LabelClaim(label, RELEASED, "", 0.0)
        return None

    def label_claim(self, label: str) -> LabelClaim | None:
        """The claim on label, if any."""
        with _dynamodb_errors("read label"):
            found = self._client.get_item(TableName=self._table, Key={"pk": _s(f"label#{label}")}, ConsistentRead=True)
        return _claim(found["Item"]) if "Item" in found else None

    def _if_pending_for(self, owner: str, operation: str, method: str, **request: Any) -> bool:
        """One conditional write to a label claim that is pending for owner; False if it no longer is."""
        condition = {
            "ConditionExpression": "#owner = :owner AND #state = :pending",
            "ExpressionAttributeNames": {"#owner": "owner", "#state": "state", **request.pop("names", {})},
            "ExpressionAttributeValues": {":owner": _s(owner), ":pending": _s(PENDING), **request.pop("values", {})},
        }
        try:
            with _dynamodb_errors(operation):
                getattr(self._client, method)(TableName=self._table, **request, **condition)
        except ConditionFailed:
            return False
        return True

    def take_over(self, claim: LabelClaim, owner: str) -> bool:
        """Make a stale pending claim ours (only if nobody else took it since it was read)."""
        return self._if_pending_for(
            claim.owner,
            "take over label",
            "update_item",
            Key={"pk": _s(f"label#{claim.label}")},
            UpdateExpression="SET #owner = :new, started_at = :now",
            values={":new": _s(owner), ":now": {"N": f"{self._clock():.3f}"}},
        )

    def abandon_label(self, label: str, owner: str) -> None:
        """Leave our pending claim for the next registration of the label to resolve at once (as if stale).

        For a registration that gives up while Okta may hold an app of it: it cannot tell, the next one checks."""
        if not self._if_pending_for(
            owner,
            "abandon label",
            "update_item",
            Key={"pk": _s(f"label#{label}")},
            UpdateExpression="SET started_at = :never",
            values={":never": {"N": "0"}},
        ):
            logger.warning("label claim no longer ours", label=label)

    def release_label(self, label: str, owner: str) -> None:
        """Drop our pending claim (nothing was created in Okta); a claim that is no longer ours stays."""
        if not self._if_pending_for(owner, "release label", "delete_item", Key={"pk": _s(f"label#{label}")}):
            logger.warning("label claim no longer ours", label=label)

    def _write_new_client(self, operation: str, client: Client, claim_write: dict[str, Any]) -> None:
        """In one transaction: the client, which must be new, and a write to its label's claim."""
        new_client = {
            "Put": {
                "TableName": self._table,
                "Item": _client_item(client),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
        with _dynamodb_errors(operation):
            self._client.transact_write_items(TransactItems=[new_client, claim_write])

    def bind(self, client: Client, owner: str) -> None:
        """Write the client and bind its label to it, in one transaction (ConditionFailed: our claim was lost)."""
        bound = {
            "TableName": self._table,
            "Key": {"pk": _s(f"label#{client.label}")},
            "UpdateExpression": "SET #state = :bound, client_id = :client REMOVE kind",
            "ConditionExpression": "#owner = :owner AND #state = :pending",
            "ExpressionAttributeNames": {"#state": "state", "#owner": "owner"},
            "ExpressionAttributeValues": {
                ":bound": _s(BOUND),
                ":client": _s(client.client_id),
                ":owner": _s(owner),
                ":pending": _s(PENDING),
            },
        }
        self._write_new_client("record client", client, {"Update": bound})

    def adopt(self, client: Client, owner: str) -> None:
        """Write an adopted client and a bound claim on its label, in one transaction.

        ConditionFailed.reasons tells which failed: [client exists, label held by another client]."""
        claim = {
            "pk": _s(f"label#{client.label}"),
            "label": _s(client.label),
            "state": _s(BOUND),
            "owner": _s(owner),
            "started_at": {"N": f"{self._clock():.3f}"},
            "client_id": _s(client.client_id),
        }
        held = {
            "TableName": self._table,
            "Item": claim,
            "ConditionExpression": "attribute_not_exists(pk) OR #state = :released",
            "ExpressionAttributeNames": {"#state": "state"},
            "ExpressionAttributeValues": {":released": _s(RELEASED)},
        }
        self._write_new_client("adopt client", client, {"Put": held})

    def get(self, client_id: str) -> Client | None:
        """The client with this id, if the registry has it."""
        with _dynamodb_errors("read client"):
            found = self._client.get_item(
                TableName=self._table, Key={"pk": _s(f"client#{client_id}")}, ConsistentRead=True
            )
        return _client(found["Item"]) if "Item" in found else None

    def page(self, limit: int, start: dict[str, Any] | None) -> tuple[list[Client], dict[str, Any] | None]:
        """Up to limit clients, newest first, from start (a decoded page token); and the key to go on from."""
        query: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": INDEX,
            "KeyConditionExpression": "kind = :client",
            "ExpressionAttributeValues": {":client": _s("client")},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if start is not None:
            query["ExclusiveStartKey"] = start
        with _dynamodb_errors("list clients"):
            found = self._client.query(**query)
        return [_client(item) for item in found.get("Items", [])], found.get("LastEvaluatedKey")

    def revoke(self, client: Client, caller: str | None) -> Client:
        """Mark an active client revoked and release its label, in one transaction; the client as it is now."""
        revoked = Client(
            **{**asdict(client), "status": REVOKED, "revoked_at": iso_now(self._clock), "revoked_by": caller}
        )
        values: dict[str, Any] = {":revoked": _s(REVOKED), ":at": _s(revoked.revoked_at or ""), ":active": _s(ACTIVE)}
        update = "SET #status = :revoked, revoked_at = :at"
        if caller:
            update += ", revoked_by = :by"
            values[":by"] = _s(caller)
        try:
            with _dynamodb_errors("revoke client"):
                self._client.transact_write_items(
                    TransactItems=[
                        {
                            "Update": {
                                "TableName": self._table,
                                "Key": {"pk": _s(f"client#{client.client_id}")},
                                "UpdateExpression": update,
                                "ConditionExpression": "#status = :active",
                                "ExpressionAttributeNames": {"#status": "status"},
                                "ExpressionAttributeValues": values,
                            }
                        },
                        {
                            "Update": {
                                "TableName": self._table,
                                "Key": {"pk": _s(f"label#{client.label}")},
                                "UpdateExpression": "SET #state = :released",
                                "ConditionExpression": "client_id = :client",
                                "ExpressionAttributeNames": {"#state": "state"},
                                "ExpressionAttributeValues": {
                                    ":released": _s(RELEASED),
                                    ":client": _s(client.client_id),
                                },
                            }
                        },
                    ]
                )
        except ConditionFailed as exc:
            if exc.reasons[:1] == ["ConditionalCheckFailed"]:
                # Revoked meanwhile by another call: idempotent, answer what the registry holds now.
                return self.get(client.client_id) or revoked
            # The label claim no longer points at this client (registered again after an earlier revocation).
            return self._revoke_client_only(client, update, values) or revoked
        return revoked

    def _revoke_client_only(self, client: Client, update: str, values: dict[str, Any]) -> Client | None:
        try:
            with _dynamodb_errors("revoke client"):
                self._client.update_item(
                    TableName=self._table,
                    Key={"pk": _s(f"client#{client.client_id}")},
                    UpdateExpression=update,
                    ConditionExpression="#status = :active",
                    ExpressionAttributeNames={"#status": "status"},
                    ExpressionAttributeValues=values,
                )
        except ConditionFailed:
            pass
        return self.get(client.client_id)

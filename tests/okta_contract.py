"""Okta's own OpenAPI description of its management API (tests/contracts/okta/), and the checks of recorded
exchanges against it: each request must match an operation, with no field the contract does not have, and each
answer the operation's response schema for its status.

The contract is parsed once per test session (3 MB of YAML, 462 paths: about a second with the C loader).
Where the contract and Okta's documented behaviour disagree, KNOWN_GAPS names the exception and its source.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import yaml
from openapi_core import Config, OpenAPI
from openapi_core.templating.paths.finders import APICallPathFinder
from openapi_core.testing import MockRequest, MockResponse

CONTRACT_DIR = Path(__file__).resolve().parent / "contracts" / "okta"
CONTRACT = CONTRACT_DIR / "okta-management-api.yaml"
HOST = "https://subdomain.okta.com"  # the contract's server; recorded exchanges come from okta_local's own URL


@lru_cache(maxsize=1)
def contract_document() -> dict[str, Any]:
    """The parsed contract (once per session)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with CONTRACT.open(encoding="utf-8") as handle:
        return dict(yaml.load(handle, Loader=loader))  # noqa: S506 (a safe loader)


@lru_cache(maxsize=1)
def contract() -> OpenAPI:
    """The contract as openapi-core reads it.

    Okta's file does not pass OpenAPI 3.0's own spec validation (some path parameters lack `required: true`, e.g.
    GET /api/v1/hook-keys/{id}), so that step is skipped; request and answer validation are not affected."""
    return OpenAPI.from_dict(contract_document(), config=Config(spec_validator_cls=None))


def _request(record: dict[str, Any]) -> MockRequest:
    args = {k: v[-1] for k, v in parse_qs(record["query"], keep_blank_values=True).items()}
    headers = {k.title(): v for k, v in record["headers"].items()}
    body = record["body"]
    data = json.dumps(body).encode() if body is not None else None
    return MockRequest(HOST, record["method"].lower(), record["path"], args=args, headers=headers, data=data)


def operation(record: dict[str, Any]) -> str | None:
    """The contract's operationId for a recorded request (None if no operation matches its method and path)."""
    spec = contract().spec
    try:
        found = APICallPathFinder(spec).find(record["method"].lower(), f"{HOST}{record['path']}")
    except Exception:  # openapi-core's PathNotFound, OperationNotFound, ServerNotFound
        return None
    return str(found.operation["operationId"])


def request_errors(record: dict[str, Any]) -> list[str]:
    """What is wrong with a recorded request, by the contract: its operation, parameters, body types, and any body
    field the contract does not have."""
    result = contract().unmarshal_request(_request(record))
    errors = [c for e in result.errors for c in _causes(e)]
    if not errors:
        errors += [f"a field the contract does not have: {f}" for f in undeclared_request_fields(record)]
    return errors


def answer_errors(record: dict[str, Any]) -> list[str]:
    """What is wrong with a recorded answer, by the operation's response for its status."""
    if operation(record) == "listRolesForClient" and record["status"] == 200 and isinstance(record["answer"], list):
        # The contract puts this list's discriminator beside `items` instead of inside the items' oneOf, so a custom
        # role assignment is "valid under each of" StandardRole and CustomRole (neither excludes the other's
        # fields) and no answer with one could pass. Each item is checked instead as the answer of
        # assignRoleToClient, the same oneOf with its discriminator in place.
        return [e for item in record["answer"] for e in answer_errors({**record, "method": "POST", "answer": item})]
    if record["status"] >= 500 and str(record["status"]) not in (_operation_document(record).get("responses") or {}):
        # Okta answers 5xx with its Error object (E0000009) on any operation, yet the contract declares no 5xx for
        # most of them: such an answer (here, the local server's injected faults) is checked as an Error object.
        return _error_object_errors(record["answer"])
    if record["status"] == 204:
        # Okta's contract writes most 204s as `content: {}`, which openapi-core reads as a body that must be there:
        # a 204 (no body, by RFC 9110) is checked to be a declared answer of the operation instead.
        declared = _operation_document(record).get("responses") or {}
        return [] if "204" in declared and record["answer"] is None else ["204 is not an answer of this operation"]
    answer = record["answer"]
    data = json.dumps(answer).encode() if answer is not None else b""
    headers = {k.title(): v for k, v in record["answer_headers"].items()}
    content_type = headers.get("Content-Type", "application/json")
    response = MockResponse(data, status_code=record["status"], headers=headers, content_type=content_type)
    result = contract().unmarshal_response(_request(record), response)
    found = operation(record)
    return [c for e in result.errors for c in _causes(e) if not _known_gap(found, c)]


def _error_object_errors(answer: Any) -> list[str]:
    from openapi_schema_validator import OAS30Validator

    schemas = contract_document()["components"]["schemas"]
    schema = {**schemas["Error"], "additionalProperties": False}
    schema["properties"] = {**schema["properties"], "errorCauses": {"type": "array", "items": schemas["ErrorCause"]}}
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in OAS30Validator(schema).iter_errors(answer)]


def _causes(error: Exception) -> list[str]:
    """`path: message` of each schema error under an openapi-core error (the error itself if it has none)."""
    schema_errors = list(getattr(error, "schema_errors", []) or [])
    cause = getattr(error, "__cause__", None)
    if not schema_errors and cause is not None:
        schema_errors = list(getattr(cause, "schema_errors", []) or [])
    if not schema_errors:
        return [f"{type(error).__name__}: {error}"[:300]]
    return [f"{'/'.join(str(p) for p in getattr(e, 'absolute_path', []))}: {e.message}" for e in schema_errors]


# Where Okta's contract and its documented answers disagree, each exception with its source. Entries are
# (operationIds, the error's path, a text the error holds).
_APP_OPERATIONS = frozenset({"createApplication", "getApplication", "listApplications", "replaceApplication"})
KNOWN_GAPS: tuple[tuple[frozenset[str], str, str], ...] = (
    # OpenIdConnectApplicationSettingsClient declares client_uri and logo_uri as strings (not nullable), yet Okta
    # answers null for an app without them, as the contract's own example answers show (components/examples
    # ListClientsResponse: `client_uri: null`, `logo_uri: null`).
    (_APP_OPERATIONS, "settings/oauthClient/client_uri|settings/oauthClient/logo_uri", "None"),
    # ApplicationAccessibility declares errorRedirectUrl and loginRedirectUrl as strings, yet Okta answers null for
    # an app without them (components/examples AppResponseBaseEx: `errorRedirectUrl: null`, `loginRedirectUrl: null`).
    (_APP_OPERATIONS, "accessibility/errorRedirectUrl|accessibility/loginRedirectUrl", "None"),
)


def _known_gap(operation_id: str | None, cause: str) -> bool:
    path, _, message = cause.partition(": ")
    path = "/".join(p for p in path.split("/") if not p.isdigit())  # list positions do not matter
    return any(operation_id in ops and path in paths.split("|") and text in message for ops, paths, text in KNOWN_GAPS)


# --- fields the contract does not have ------------------------------------------------------------------------
# openapi-core's "forbid" policy reads each allOf member on its own, so it flags fields that another member of the
# same allOf declares (Okta's Application and policy rule schemas are allOf compositions). Undeclared fields are
# found here instead: every property an object's schema declares, through $ref, allOf and the discriminator's
# choice of oneOf/anyOf (or, without one, any of them), and none other unless additionalProperties allows it.


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        node: Any = contract_document()
        for part in str(schema["$ref"]).lstrip("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def _options(schema: dict[str, Any], value: dict[str, Any], seen: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """The schemas an object value must be read with: itself, its allOf, the schema its discriminator maps the value
    to (Okta puts discriminators on base schemas: Application -> OpenIdConnectApplication), and the oneOf/anyOf
    members the discriminator picks (all of them without one)."""
    ref = str(schema.get("$ref", ""))
    if ref and ref in seen:
        return []
    seen = seen | {ref} if ref else seen
    schema = _resolve(schema)
    found = [schema]
    for member in schema.get("allOf", []):
        found += _options(member, value, seen)
    discriminator = schema.get("discriminator") or {}
    chosen = (discriminator.get("mapping") or {}).get(str(value.get(discriminator.get("propertyName", ""), "")))
    members = [*schema.get("oneOf", []), *schema.get("anyOf", [])]
    if chosen and not any(m.get("$ref") == chosen for m in members):
        found += _options({"$ref": chosen}, value, seen)
    picked = [m for m in members if m.get("$ref") == chosen] if chosen else []
    for member in picked or members:
        found += _options(member, value, seen)
    return found


def undeclared(schema: dict[str, Any], value: Any, where: str = "") -> list[str]:
    """Every field of value that its schema does not declare (and does not allow by additionalProperties)."""
    schema = _resolve(schema)
    if isinstance(value, list):
        items = schema.get("items")
        return [f for i, v in enumerate(value) for f in undeclared(items, v, f"{where}[{i}]")] if items else []
    if not isinstance(value, dict):
        return []
    options = _options(schema, value)
    declared: dict[str, dict[str, Any]] = {}
    open_ended = False
    for option in options:
        declared.update(option.get("properties") or {})
        extra = option.get("additionalProperties")
        if extra is True or isinstance(extra, dict):
            open_ended = True
    if not declared and not any("type" in o for o in options):
        return []  # a free-form schema: anything goes
    found = []
    for key, item in value.items():
        if key in declared:
            found += undeclared(declared[key], item, f"{where}.{key}")
        elif not open_ended:
            found.append(f"{where}.{key}".lstrip("."))
    return found


def _operation_document(record: dict[str, Any]) -> dict[str, Any]:
    found = APICallPathFinder(contract().spec).find(record["method"].lower(), f"{HOST}{record['path']}")
    _, template, method = found.operation.parts
    return dict(contract_document()["paths"][template][method])


def undeclared_request_fields(record: dict[str, Any]) -> list[str]:
    """The recorded request body's fields that its operation's request schema does not declare."""
    body = _operation_document(record).get("requestBody")
    if body is None or record["body"] is None:
        return []
    schema = ((_resolve(body).get("content") or {}).get("application/json") or {}).get("schema")
    return undeclared(schema, record["body"]) if schema else []

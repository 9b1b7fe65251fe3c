"""The register function's Secrets Manager secret: the service app's private JWK, nowhere else.

boto3 finds the endpoint, region and credentials the standard way (AWS_PROFILE, AWS_REGION,
AWS_ENDPOINT_URL_SECRETS_MANAGER for a local moto, ...). The secret is created, or a new version put; the tool
never reads or changes a secret it did not make (its tag says who made it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from okta_setup.errors import SetupError

TAG = "okta-m2m-setup"  # its value: the stack name


@dataclass(frozen=True)
class Secret:
    """The secret as found: its ARN, whether we made it, and the private JWK it holds (None if none usable)."""

    arn: str
    ours: bool
    jwk: dict[str, Any] | None = field(repr=False)


def _aws_error(step: str, exc: Exception) -> SetupError:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return SetupError(
            f"{step}: AWS answered {error.get('Code')}: {' '.join(str(error.get('Message', '')).split())}"
        )
    return SetupError(f"{step}: {type(exc).__name__}: {exc}")


def private_jwk(text: str | None) -> dict[str, Any] | None:
    """The private RSA JWK a secret string holds, or None."""
    try:
        jwk = json.loads(text or "")
    except ValueError:
        return None
    if isinstance(jwk, dict) and jwk.get("kty") == "RSA" and all(jwk.get(m) for m in ("kid", "n", "e", "d")):
        return jwk
    return None


class Secrets:
    """Secrets Manager, reached through boto3's standard settings (the region samconfig names, if any)."""

    def __init__(self, region: str | None = None) -> None:
        self._region = region

    @cached_property
    def _client(self) -> Any:
        try:
            return boto3.client("secretsmanager", region_name=self._region)
        except BotoCoreError as exc:
            raise _aws_error("Secrets Manager", exc) from None

    def find(self, name: str, stack: str) -> Secret | None:
        """The secret of this name, or None if there is none."""
        step = f"reading secret {name}"
        try:
            described = self._client.describe_secret(SecretId=name)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return None
            raise _aws_error(step, exc) from None
        except BotoCoreError as exc:
            raise _aws_error(step, exc) from None
        ours = any(t.get("Key") == TAG and t.get("Value") == stack for t in described.get("Tags") or [])
        if not ours:
            return Secret(str(described["ARN"]), False, None)
        try:
            value = self._client.get_secret_value(SecretId=name).get("SecretString")
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":  # made, but no value yet
                return Secret(str(described["ARN"]), True, None)
            raise _aws_error(step, exc) from None
        return Secret(str(described["ARN"]), True, private_jwk(value))

    def store(self, name: str, stack: str, jwk: dict[str, Any], existing: Secret | None) -> str:
        """Create the secret with the JWK, or put it as the secret's new version; return the ARN."""
        text = json.dumps(jwk)
        try:
            if existing is None:
                created = self._client.create_secret(
                    Name=name,
                    Description=f"okta_setup: private JWK of the {stack} register function's Okta service app",
                    SecretString=text,
                    Tags=[{"Key": TAG, "Value": stack}],
                )
                return str(created["ARN"])
            self._client.put_secret_value(SecretId=existing.arn, SecretString=text)
            return existing.arn
        except (ClientError, BotoCoreError) as exc:
            raise _aws_error(f"storing secret {name}", exc) from None

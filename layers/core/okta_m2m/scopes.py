"""Scope checks on the authorizer's context; light to import, so every proxy function can use them."""

from __future__ import annotations

from okta_m2m.errors import ForbiddenError


def require_scope(granted_scopes: str | None, required: str) -> None:
    """Raise ForbiddenError unless required is one of the space-separated granted scopes."""
    if required not in (granted_scopes or "").split():
        raise ForbiddenError(f"scope {required} not granted")

"""Client settings from the environment or a .env file, with the names users know from Okta's tutorials."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from m2m_client.errors import ClientConfigError

SETTING_NAMES = ("ISSUER", "DEFAULT_SCOPE", "CLIENT_ID", "CLIENT_SECRET", "API_URL", "DPOP")
_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no", "")


@dataclass(frozen=True)
class ClientConfig:
    """Where to get tokens, with which credentials and scope, and which API to call."""

    issuer: str
    client_id: str
    client_secret: str = field(repr=False)  # keep it out of reprs, logs and tracebacks
    scope: str = ""
    api_url: str = ""
    dpop: bool = False  # ask for DPoP-bound tokens and prove the key on every call (RFC 9449)

    @property
    def token_url(self) -> str:
        """The custom authorization server's token endpoint."""
        return f"{self.issuer}/v1/token"


def parse_env_file(path: Path) -> dict[str, str]:
    """Read KEY=VALUE lines (optional `export `, quotes and # comments), as docker compose and dotenv do."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ClientConfigError(f"cannot read env file {path}: {exc.strerror or exc}") from None
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def checked_url(name: str, value: str) -> str:
    """Return value without a trailing slash if it is https, or http to this machine (never send secrets in clear)."""
    parts = urlsplit(value)
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not host or parts.username or parts.password:
        raise ClientConfigError(f"{name} is not an http(s) URL")
    if parts.scheme == "http" and not _is_loopback(host):
        raise ClientConfigError(f"{name} must use https (plain http is only allowed to localhost)")
    return value.rstrip("/")


def load_config(
    env_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    need_api: bool = False,
    scope: str | None = None,
    dpop: bool | None = None,
) -> ClientConfig:
    """Build the config from an explicit env file (wins), the environment, then ./.env (fills gaps).

    Parameters
    ----------
    env_file
        A file the user named on purpose, so its values override the environment.
    environ
        The environment (os.environ by default).
    need_api
        Require API_URL as well (for calls, not for getting a token).
    scope
        Overrides DEFAULT_SCOPE.
    dpop
        Overrides DPOP (true or false): ask for DPoP-bound tokens.
    """
    environ = os.environ if environ is None else environ
    default_file = Path(".env")
    fallback = parse_env_file(default_file) if env_file is None and default_file.is_file() else {}
    explicit = parse_env_file(env_file) if env_file is not None else {}
    merged = {name: explicit.get(name) or environ.get(name) or fallback.get(name) or "" for name in SETTING_NAMES}
    required = ["ISSUER", "CLIENT_ID", "CLIENT_SECRET"] + (["API_URL"] if need_api else [])
    missing = [name for name in required if not merged[name].strip()]
    if missing:
        raise ClientConfigError(f"missing {', '.join(missing)}: set them in the environment or a .env file")
    dpop_setting = merged["DPOP"].strip().lower()
    if dpop_setting not in _TRUE + _FALSE:
        raise ClientConfigError("DPOP must be true or false")
    return ClientConfig(
        dpop=dpop_setting in _TRUE if dpop is None else dpop,
        issuer=checked_url("ISSUER", merged["ISSUER"].strip()),
        client_id=merged["CLIENT_ID"].strip(),
        client_secret=merged["CLIENT_SECRET"].strip(),
        scope=(merged["DEFAULT_SCOPE"] if scope is None else scope).strip(),
        api_url=checked_url("API_URL", merged["API_URL"].strip()) if merged["API_URL"].strip() else "",
    )

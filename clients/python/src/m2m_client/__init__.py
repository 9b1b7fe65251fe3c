"""A small OAuth 2.0 client-credentials client for the API: library and CLI (`python -m m2m_client`)."""

from m2m_client.client import M2MClient, describe_failure
from m2m_client.config import ClientConfig, load_config, parse_env_file
from m2m_client.errors import (
    ApiError,
    ApiUnreachableError,
    ClientConfigError,
    ClientError,
    IssuerUnreachableError,
    TokenRequestError,
)

__all__ = [
    "ApiError",
    "ApiUnreachableError",
    "ClientConfig",
    "ClientConfigError",
    "ClientError",
    "IssuerUnreachableError",
    "M2MClient",
    "TokenRequestError",
    "describe_failure",
    "load_config",
    "parse_env_file",
]

"""Verifying Okta access tokens and deciding on them: everything the authorizer ships, and the route-scope check
every proxy function uses. It never imports okta_m2m.clients (import-linter checks it in `make lint`).

These are the public names; the modules behind them (`_jws`, `_policy`, ...) are private. Each name is imported
when it is first used, not with the package: the authorizer starts fetching its issuers' keys with the light
`Prefetched` and `issuer_settings` before cryptography and the rest load (functions/authorizer/app.py).

The modules that define NamedTuples on the authorizer's path leave out `from __future__ import annotations`: with it
each field's annotation is a string, which typing compiles as the class is made, and the first `compile()` of a
process sets up the AST types (about 1.3 ms, then 20 us a field): about 2 ms of a cold start (make bench). Their
few forward references are quoted. tests/unit/test_layer_packages.py keeps the cold paths free of `compile()`.
"""

TYPE_CHECKING = False  # typing.TYPE_CHECKING would import typing, which the authorizer's first imports avoid
if TYPE_CHECKING:
    from okta_m2m.tokens._authorization import TokenAuthorizer, usage_key
    from okta_m2m.tokens._fetch import (
        TIMEOUT_SECONDS,
        HttpError,
        Prefetched,
        fetch_json,
        split_url,
    )
    from okta_m2m.tokens._issuers import (
        IssuerSettings,
        issuer_settings,
        required,
        secure_url,
    )
    from okta_m2m.tokens._jwks import KeyCache
    from okta_m2m.tokens._log_format import (
        CallSiteLog,
        FieldLogger,
        service_logger,
    )
    from okta_m2m.tokens._replay import DynamoDbReplayStore, ProofReplay
    from okta_m2m.tokens._routes import (
        Route,
        RouteTable,
        parse_route_table,
        path_shape,
    )
    from okta_m2m.tokens._scopes import check_route_scope
    from okta_m2m.tokens._settings import (
        AuthorizerSettings,
        DpopSettings,
        authorizer_settings,
        dpop_settings,
        log_settings,
        route_table,
    )
    from okta_m2m.tokens._sigv4 import Credentials

# Public name -> the private module that defines it. tests/unit/test_layer_packages.py holds this table and the
# block above to each other.
_WHERE = {
    "TokenAuthorizer": "_authorization",
    "usage_key": "_authorization",
    "TIMEOUT_SECONDS": "_fetch",
    "HttpError": "_fetch",
    "Prefetched": "_fetch",
    "fetch_json": "_fetch",
    "split_url": "_fetch",
    "IssuerSettings": "_issuers",
    "issuer_settings": "_issuers",
    "required": "_issuers",
    "secure_url": "_issuers",
    "KeyCache": "_jwks",
    "CallSiteLog": "_log_format",
    "FieldLogger": "_log_format",
    "service_logger": "_log_format",
    "DynamoDbReplayStore": "_replay",
    "ProofReplay": "_replay",
    "Route": "_routes",
    "RouteTable": "_routes",
    "parse_route_table": "_routes",
    "path_shape": "_routes",
    "check_route_scope": "_scopes",
    "AuthorizerSettings": "_settings",
    "DpopSettings": "_settings",
    "authorizer_settings": "_settings",
    "dpop_settings": "_settings",
    "log_settings": "_settings",
    "route_table": "_settings",
    "Credentials": "_sigv4",
}
__all__ = tuple(_WHERE)


def __getattr__(name: str) -> object:
    """Import a public name's module on first use (PEP 562), and keep the name here for the next."""
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(__import__(f"{__name__}.{module}", fromlist=(name,)), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

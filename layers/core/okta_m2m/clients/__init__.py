"""Managing clients in Okta and AWS: the register function's side (POST /register and /clients).

It acts in Okta as a service app (OAuth for Okta with DPoP, or an SSWS token), keeps the client registry in
DynamoDB, gives each client its API key in the usage plan, and takes turns on shared objects under DynamoDB leases.
It may use okta_m2m.tokens' public names; the token side never imports it. These are the public names; the modules
behind them (`_registry`, `_okta_client`, ...) are private.
"""

from okta_m2m.clients._okta_auth import APPS_SCOPE, POLICIES_SCOPE, OAuthForOkta, okta_auth
from okta_m2m.clients._okta_client import OktaAuth, OktaClient, okta_request, retry_after_seconds
from okta_m2m.clients._operations import (
    adopt_client,
    check_id,
    list_clients,
    remove_secret,
    revoke_client,
    rotate_secret,
    show_client,
)
from okta_m2m.clients._registration import read_label, read_registration, register_service_app
from okta_m2m.clients._registry import Registry
from okta_m2m.clients._settings import RegisterSettings, register_settings

__all__ = (
    "APPS_SCOPE",
    "POLICIES_SCOPE",
    "OAuthForOkta",
    "OktaAuth",
    "OktaClient",
    "RegisterSettings",
    "Registry",
    "adopt_client",
    "check_id",
    "list_clients",
    "okta_auth",
    "okta_request",
    "read_label",
    "read_registration",
    "register_service_app",
    "register_settings",
    "remove_secret",
    "revoke_client",
    "retry_after_seconds",
    "rotate_secret",
    "show_client",
)

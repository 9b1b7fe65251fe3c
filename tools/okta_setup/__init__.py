"""okta_setup: one tool from an empty Okta org to a deployable API, and the check that it is right.

    export OKTA_SETUP_TOKEN=...          # an SSWS API token (or --client-id ID --private-key FILE: OAuth for Okta)
    python -m okta_setup plan  --issuer https://ORG/oauth2/default --config-env prod
    python -m okta_setup apply --issuer https://ORG/oauth2/default --config-env prod --admin-env admin.env
    python -m okta_setup check --config-env prod --admin-env admin.env --api-url https://...

Driven by template.yaml (the route table, ROUTE_SCOPES, with the environment's parameter values) and a
samconfig.toml environment; the local stack (`make dev`) runs the same `apply` against the local Okta server.
"""

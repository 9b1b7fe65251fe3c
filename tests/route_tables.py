"""Route tables (ROUTE_SCOPES) the tests configure."""

# What template.yaml declares with its default scopes (tests/unit/test_route_drift.py checks that it still does).
TEMPLATE_ROUTES = """\
GET / hello
GET /hello hello
DPoP GET /hello/dpop hello
POST /register register
GET /clients register
GET /clients/{clientId} register
PUT /clients/{clientId} register
DELETE /clients/{clientId} register
POST /clients/{clientId}/secrets register
DELETE /clients/{clientId}/secrets/{secretId} register
"""

# template.yaml's UNAUTHORIZED gateway response: one for the whole API, so it challenges both schemes (RFC 9449 7.2).
UNAUTHORIZED_CHALLENGE = 'Bearer error="invalid_token", DPoP error="invalid_token", algs="ES256 RS256"'

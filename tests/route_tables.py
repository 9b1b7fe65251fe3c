"""Route tables (ROUTE_SCOPES) the tests configure."""

# What template.yaml declares with its default scopes (tests/unit/test_route_drift.py checks that it still does).
TEMPLATE_ROUTES = """\
GET / hello
GET /hello hello
POST /register register
GET /clients register
GET /clients/{clientId} register
PUT /clients/{clientId} register
DELETE /clients/{clientId} register
POST /clients/{clientId}/secrets register
DELETE /clients/{clientId}/secrets/{secretId} register
"""

"""Route tables (ROUTE_SCOPES) the tests configure."""

from tests.shipped_template import route_table

# What template.yaml declares, with its default scopes, read from it (tests/unit/test_route_drift.py checks that SAM
# resolves the same table).
TEMPLATE_ROUTES = route_table()

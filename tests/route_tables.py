"""Route tables (ROUTE_SCOPES) the tests configure."""

# What template.yaml declares with its default scopes.
TEMPLATE_ROUTES = """\
GET / hello
GET /hello hello
POST /register register
"""

"""Route tables (ROUTE_SCOPES) the tests configure."""

from tests.shipped_template import route_table

# What template.yaml declares, with its default scopes, read from it (tests/unit/test_route_drift.py checks that SAM
# resolves the same table).
TEMPLATE_ROUTES = route_table()

# template.yaml's UNAUTHORIZED gateway response: one answer for the whole API, also to a request without credentials,
# so no error code (RFC 6750 3.1), and both schemes challenged, DPoP with its algorithms (RFC 9449 7.1, 7.2).
UNAUTHORIZED_CHALLENGE = 'Bearer, DPoP algs="ES256 RS256"'

# The head of the small SAM templates the drift tests write: every function gets the route table (indented ten
# spaces, the block scalar's lines) from Globals; `{code}` is the functions' CodeUri. A test appends `{table}` (or its
# own lines) and its Resources.
SAM_TEMPLATE_HEAD = """\
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.13
    Handler: app.handler
    CodeUri: {code}
    Environment:
      Variables:
        ROUTE_SCOPES: |
"""

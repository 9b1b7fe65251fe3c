"""Schemathesis against the live local stack: the API's own document (openapi.yaml), real tokens from the local
Okta server, and our checks (api_fuzz.hooks). `make fuzz-api` runs the deep profile; `make test` the bounded one
(tests/integration/test_api_fuzz.py)."""

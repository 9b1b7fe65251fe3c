"""Okta machine-to-machine API core: token validation, policies, Okta Apps client."""

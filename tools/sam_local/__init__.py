"""`make sam-local-check`: `sam local invoke` and `sam local start-api` in Docker against local Okta and moto."""

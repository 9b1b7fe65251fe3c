"""Benchmarks: `python -m benchmarks.authorizer` and `python -m benchmarks.api`."""

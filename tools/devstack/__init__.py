"""The local stack (local Okta server, moto, local API) behind `make dev`, `make demo` and `make events`."""

from devstack.processes import ManagedProcess, StackError, free_port
from devstack.stack import LocalStack, Ports

__all__ = ["LocalStack", "ManagedProcess", "Ports", "StackError", "free_port"]

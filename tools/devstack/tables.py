"""DynamoDB tables for local runs, created in moto from the template's own definitions (never from a copy)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider

# What CreateTable takes from an AWS::DynamoDB::Table's Properties; the rest (SSE, PITR, deletion protection,
# tags) has no local meaning.
_CREATE_KEYS = ("AttributeDefinitions", "KeySchema", "BillingMode", "GlobalSecondaryIndexes", "LocalSecondaryIndexes")


def template_resources(
    template: Path, kind: str, parameter_overrides: dict[str, str] | None = None
) -> dict[str, dict[str, Any]]:
    """The Properties of each resource of this type in the template (parameters resolved), by logical id."""
    stacks, _ = SamLocalStackProvider.get_stacks(str(template), parameter_overrides=parameter_overrides or {})
    return {
        logical_id: resource.get("Properties") or {}
        for stack in stacks
        for logical_id, resource in stack.resources.items()
        if resource.get("Type") == kind
    }


def template_tables(template: Path, parameter_overrides: dict[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """Each AWS::DynamoDB::Table of the template, by the name `!Ref` gives it locally (its logical id)."""
    return template_resources(template, "AWS::DynamoDB::Table", parameter_overrides)


def create_tables(client: Any, template: Path, parameter_overrides: dict[str, str] | None = None) -> list[str]:
    """Create the template's tables (those not there yet) with a DynamoDB client; return their names."""
    existing = set(client.list_tables().get("TableNames", []))
    names = []
    for name, props in template_tables(template, parameter_overrides).items():
        if name not in existing:
            client.create_table(TableName=name, **{k: props[k] for k in _CREATE_KEYS if k in props})
            ttl = props.get("TimeToLiveSpecification")
            if ttl:
                client.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
        names.append(name)
    return names

"""DynamoDB tables for local runs, created in moto from the template's own definitions (never from a copy)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from samcli.lib.intrinsic_resolver.intrinsic_property_resolver import IntrinsicResolver
from samcli.lib.intrinsic_resolver.intrinsics_symbol_table import IntrinsicsSymbolTable
from samcli.lib.providers.sam_base_provider import SamBaseProvider
from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider

# What CreateTable takes from an AWS::DynamoDB::Table's Properties; the rest (SSE, PITR, deletion protection,
# tags) has no local meaning.
_CREATE_KEYS = ("AttributeDefinitions", "KeySchema", "BillingMode", "GlobalSecondaryIndexes", "LocalSecondaryIndexes")


def _conditions(template_dict: dict[str, Any], parameter_overrides: dict[str, str]) -> Callable[[str | None], bool]:
    """Whether a template's condition holds with these parameters (SAM CLI's resolver, as for its Fn::If)."""
    values = SamBaseProvider._get_parameter_values(template_dict, parameter_overrides)
    symbols = IntrinsicsSymbolTable(logical_id_translator=values, template=template_dict)
    resolver = IntrinsicResolver(template=template_dict, symbol_resolver=symbols)
    return lambda name: name is None or resolver.intrinsic_property_resolver({"Fn::If": [name, True, False]}, False)


def template_resources(
    template: Path, kind: str, parameter_overrides: dict[str, str] | None = None
) -> dict[str, dict[str, Any]]:
    """The Properties of each resource of this type in the template (parameters resolved), by logical id; a
    resource whose Condition does not hold is left out, as CloudFormation leaves it out."""
    overrides = parameter_overrides or {}
    stacks, _ = SamLocalStackProvider.get_stacks(str(template), parameter_overrides=overrides)
    found = {}
    for stack in stacks:
        holds = _conditions(stack.template_dict, overrides)
        for logical_id, resource in stack.resources.items():
            if resource.get("Type") == kind and holds(resource.get("Condition")):
                found[logical_id] = resource.get("Properties") or {}
    return found


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

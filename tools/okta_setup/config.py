"""What the tool reads and writes locally: the template's route table and parameters, and one samconfig.toml
environment (`parameter_overrides`, `stack_name`), written back with every other key, comment and environment kept.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit
from samcli.lib.providers.sam_function_provider import SamFunctionProvider
from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider
from samcli.yamlhelper import yaml_parse

from okta_m2m.errors import ConfigError
from okta_m2m.tokens import RouteTable, parse_route_table
from okta_setup.errors import SetupError

ROUTE_SETTING = "ROUTE_SCOPES"
DEFAULT_STACK_NAME = "okta-m2m-api"
# The template parameters `apply` writes into the environment's parameter_overrides.
WRITTEN = ("Issuer", "OktaOrgUrl", "OktaApiTokenSecretArn", "OktaClientId", "OktaAccessPolicyId", "AdminClientId")


@dataclass(frozen=True)
class Environment:
    """One samconfig.toml environment as the tool needs it, and the template's parameters resolved with it."""

    name: str
    stack_name: str
    region: str | None  # samconfig's region, if it names one (else boto3's own settings)
    overrides: dict[str, str]  # the environment's parameter_overrides
    parameters: dict[str, str]  # the template's defaults, then the overrides
    routes: RouteTable  # ROUTE_SCOPES with the parameters substituted

    def route_scopes(self) -> list[str]:
        """Every scope of the route table, in table order."""
        return list(dict.fromkeys(s for r in self.routes.routes for s in sorted(r.scopes)))


def _document(path: Path) -> tomlkit.TOMLDocument:
    try:
        return tomlkit.parse(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return tomlkit.document()
    except (OSError, tomlkit.exceptions.TOMLKitError) as exc:
        raise SetupError(f"reading {path}: {exc}") from None


def parse_overrides(value: object) -> dict[str, str]:
    """parameter_overrides as samconfig holds it: a list of "Key=Value", or one string of them (shell quoting)."""
    items = shlex.split(value) if isinstance(value, str) else [str(v) for v in value or []]  # type: ignore[attr-defined]
    pairs = {}
    for item in items:
        key, sep, val = item.partition("=")
        if sep:
            pairs[key.strip()] = val
    return pairs


def _section(doc: tomlkit.TOMLDocument, env: str, command: str) -> dict[str, Any]:
    table = doc.get(env, {}).get(command, {}).get("parameters", {})
    return dict(table) if isinstance(table, dict) else {}


def template_parameters(template: Path) -> dict[str, str]:
    """Each template parameter's default (as a string; no default: empty)."""
    try:
        document = yaml_parse(template.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SetupError(f"reading {template}: {exc.strerror or exc}") from None
    params = document.get("Parameters") or {}
    return {name: str(spec.get("Default", "")) for name, spec in params.items() if isinstance(spec, dict)}


def route_table(template: Path, parameters: dict[str, str]) -> RouteTable:
    """The template's ROUTE_SCOPES with these parameter values substituted, read as the layer reads it."""
    stacks, _ = SamLocalStackProvider.get_stacks(str(template), parameter_overrides=parameters)
    for function in SamFunctionProvider(list(stacks)).get_all():
        text = ((function.environment or {}).get("Variables") or {}).get(ROUTE_SETTING)
        if text is not None:
            try:
                return parse_route_table(str(text))
            except ConfigError as exc:
                raise SetupError(f"reading the route table of {template}: {exc}") from None
    raise SetupError(f"{template} has no function with {ROUTE_SETTING}")


def load(config_file: Path, env: str, template: Path) -> Environment:
    """Read the environment and the template's route table with its parameter values substituted."""
    doc = _document(config_file)
    deploy = _section(doc, env, "deploy")
    overrides = parse_overrides(deploy.get("parameter_overrides"))
    common = _section(doc, env, "global")
    stack = common.get("stack_name") or deploy.get("stack_name") or DEFAULT_STACK_NAME
    region = deploy.get("region") or common.get("region")
    parameters = {**template_parameters(template), **overrides}
    return Environment(
        env, str(stack), str(region) if region else None, overrides, parameters, route_table(template, parameters)
    )


def write_overrides(config_file: Path, env: str, values: dict[str, str]) -> None:
    """Set these keys of the environment's parameter_overrides, keeping every other key, comment and environment."""
    doc = _document(config_file)
    env_table = doc.setdefault(env, tomlkit.table(is_super_table=True))
    deploy = env_table.setdefault("deploy", tomlkit.table(is_super_table=True))
    params = deploy.setdefault("parameters", tomlkit.table())
    array = params.get("parameter_overrides")
    if not isinstance(array, tomlkit.items.Array):  # none yet, or one string: the list form keeps one key a line
        array = tomlkit.array()
        array.multiline(True)
        array.extend(f"{k}={v}" for k, v in parse_overrides(params.get("parameter_overrides")).items())
        params["parameter_overrides"] = array
    for key, value in values.items():
        line = f"{key}={value}"
        at = next((i for i, item in enumerate(array) if str(item).partition("=")[0].strip() == key), None)
        if at is None:
            array.append(line)
        else:
            array[at] = line  # in place: the array's comments stay
    tmp = config_file.with_name(f".{config_file.name}.{os.getpid()}.tmp")
    tmp.write_text(tomlkit.dumps(doc), encoding="utf-8")
    os.replace(tmp, config_file)

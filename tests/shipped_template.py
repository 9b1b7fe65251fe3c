"""What a template (template.yaml unless told) declares, read from it: tests that describe the shipped template use
these, never a copy, so that adding a route or changing an answer there is the template's edit and nothing else."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"
_SUB = re.compile(r"\$\{([A-Za-z0-9]+)\}")


@cache
def template(path: Path = TEMPLATE) -> dict[str, Any]:
    """The template as a dict, intrinsic functions as their long form ({"Fn::Sub": ...})."""
    return dict(yaml_parse(path.read_text(encoding="utf-8")))


def parameters(path: Path = TEMPLATE, **overrides: str) -> dict[str, str]:
    """The template's parameter defaults, with overrides."""
    declared = template(path).get("Parameters", {})
    return {name: str(spec["Default"]) for name, spec in declared.items() if "Default" in spec} | overrides


def _resolved(value: Any, params: dict[str, str]) -> str:
    if isinstance(value, dict) and set(value) == {"Fn::Sub"}:
        return _SUB.sub(lambda name: params[name[1]], value["Fn::Sub"])
    assert isinstance(value, str), value
    return value


def route_table(path: Path = TEMPLATE, **overrides: str) -> str:
    """ROUTE_SCOPES as the functions see it, with the scope parameters' defaults (or overrides) filled in."""
    variables = template(path)["Globals"]["Function"]["Environment"]["Variables"]
    return _resolved(variables["ROUTE_SCOPES"], parameters(path, **overrides))


def route_scopes(path: Path = TEMPLATE, **overrides: str) -> set[str]:
    """Every scope the route table names."""
    return {scope for line in route_table(path, **overrides).splitlines() for scope in line.split()[2:]}


def api_events(path: Path = TEMPLATE) -> set[tuple[str, str]]:
    """(METHOD, path) of every Api event of the template's functions."""
    return {
        (str(event["Properties"]["Method"]).upper(), str(event["Properties"]["Path"]))
        for resource in template(path)["Resources"].values()
        if resource["Type"] == "AWS::Serverless::Function"
        for event in resource.get("Properties", {}).get("Events", {}).values()
        if event["Type"] == "Api"
    }


def _api(path: Path) -> dict[str, Any]:
    (api,) = [r["Properties"] for r in template(path)["Resources"].values() if r["Type"] == "AWS::Serverless::Api"]
    return dict(api)


def gateway_body(kind: str, path: Path = TEMPLATE) -> dict[str, Any]:
    """The JSON body of one of the API's gateway responses (UNAUTHORIZED, THROTTLED...)."""
    return dict(json.loads(_api(path)["GatewayResponses"][kind]["ResponseTemplates"]["application/json"]))


def access_log_fields(path: Path = TEMPLATE) -> set[str]:
    """The field names of the stage's JSON access log format."""
    return set(re.findall(r'"([A-Za-z]+)":', _api(path)["AccessLogSetting"]["Format"]))

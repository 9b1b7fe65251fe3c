"""What `sam deploy` would send from samconfig.toml, checked against template.yaml's parameters as CloudFormation
checks them (AllowedPattern, AllowedValues): no environment can deploy a placeholder, and the defaults are safe."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from tests.shipped_template import parameters, template

ROOT = Path(__file__).resolve().parents[2]
SAMCONFIG = tomllib.loads((ROOT / "samconfig.toml").read_text(encoding="utf-8"))
DECLARED = template()["Parameters"]
REQUIRED = sorted(name for name, spec in DECLARED.items() if "Default" not in spec)


def overrides(environment: str) -> dict[str, str]:
    """An environment's parameter_overrides as SAM CLI reads them ("Key=Value" items)."""
    listed = SAMCONFIG[environment].get("deploy", {}).get("parameters", {}).get("parameter_overrides", [])
    items = listed.split() if isinstance(listed, str) else listed
    return dict(item.split("=", 1) for item in items)


def refusal(name: str, value: str) -> str | None:
    """CloudFormation's refusal of a parameter value, or None if it takes it."""
    spec = DECLARED[name]
    if "AllowedValues" in spec and value not in [str(v) for v in spec["AllowedValues"]]:
        return f"{name} must be one of {spec['AllowedValues']}"
    if "AllowedPattern" in spec and not re.fullmatch(spec["AllowedPattern"], value):  # CloudFormation: whole value
        return f"{name} must match {spec['AllowedPattern']}"
    return None


ENVIRONMENTS = [name for name in SAMCONFIG if name != "version" and "deploy" in SAMCONFIG[name]]


def test_the_default_environment_holds_no_parameter_values():
    # `sam deploy --guided` asks for them; before that, a plain `sam deploy` stops: the required ones have no value
    assert overrides("default") == {}
    assert REQUIRED == ["Issuer", "OktaApiTokenSecretArn", "OktaOrgUrl"]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_override_names_a_parameter_of_the_template(environment):
    assert set(overrides(environment)) <= set(DECLARED)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_an_environment_with_a_placeholder_is_refused_for_each_one(environment):
    values = overrides(environment)
    placeholders = {name: value for name, value in values.items() if "<" in value}
    for name, value in placeholders.items():
        assert refusal(name, value), f"{environment}: {name}={value} would deploy"
    for name, value in values.items():
        if name not in placeholders:
            assert refusal(name, value) is None, f"{environment}: {name}={value}"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("Issuer", "https://dev-123456.okta.com/oauth2/default"),
        ("Issuer", "https://login.example.com/oauth2/aus1a2b3c4d5e6f7g8h9"),
        ("OktaOrgUrl", "https://dev-123456.okta.com"),
        ("OktaApiTokenSecretArn", "arn:aws:secretsmanager:eu-west-1:210987654321:secret:okta-m2m/register-Ab1Cd2"),
        ("OktaClientId", "0oa1b2c3d4e5f6g7h8i9"),
        ("OktaAccessPolicyId", "00p1b2c3d4e5f6g7h8i9"),
        ("AdminClientId", "0oa9z8y7x6w5v4u3t2s1"),
    ],
)
def test_real_values_are_taken(name, value):
    assert refusal(name, value) is None


def test_the_templates_defaults_are_the_safe_ones():
    defaults = parameters()
    assert defaults["ClientsTableDeletionProtection"] == "true"
    assert defaults["LogLevel"] == "INFO"
    assert defaults["CreateApiGatewayLogRole"] == "false"  # an account-wide setting: only when asked for
    assert defaults["PerClientApiKeys"] == "true"
    for environment in ENVIRONMENTS:
        values = overrides(environment)
        assert values.get("LogLevel", "INFO") != "DEBUG" and values.get("ClientsTableDeletionProtection") != "false"

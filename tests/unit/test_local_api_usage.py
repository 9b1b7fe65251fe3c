"""The local API's usage plan arithmetic (token bucket, quota periods), access log rendering, `make usage` report and
what it reads from templates, offline, with clocks of the tests' own (tests/integration/test_local_api_usage.py runs
them all on a real stack)."""

from __future__ import annotations

import inspect
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider
from samcli.local.apigw.local_apigw_service import LocalApigwService
from samcli.local.apigw.path_converter import PathConverter
from samcli.local.apigw.service_error_responses import ServiceErrorResponses

from local_api.access_log import DEFAULT_FORMAT, AccessLogFormat, AccessRecord, clf_time
from local_api.gateway import GatewaySettings
from local_api.usage import main as usage_main
from local_api.usage import read_log, since_seconds
from local_api.usage_plans import QUOTA_EXCEEDED, THROTTLED, Limiter, Plan, Quota, period_start
from tests.shipped_template import api_events

MONDAY = datetime(2026, 11, 30, 15, 30, tzinfo=UTC)


class Clocks:
    """A monotonic clock and a UTC clock that move together, by hand."""

    def __init__(self, start: datetime = MONDAY) -> None:
        self.seconds, self.start = 0.0, start

    def monotonic(self) -> float:
        return self.seconds

    def utc(self) -> datetime:
        return self.start + timedelta(seconds=self.seconds)


def limiter(clocks: Clocks) -> Limiter:
    return Limiter(clock=clocks.monotonic, utc_now=clocks.utc)


@pytest.mark.parametrize(
    ("period", "now", "start"),
    [
        ("DAY", datetime(2026, 12, 1, 23, 59, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)),
        ("WEEK", MONDAY, datetime(2026, 11, 29, tzinfo=UTC)),  # the Sunday before
        ("WEEK", datetime(2026, 11, 29, 0, 0, 1, tzinfo=UTC), datetime(2026, 11, 29, tzinfo=UTC)),  # a Sunday
        ("WEEK", datetime(2026, 12, 5, 23, 0, tzinfo=UTC), datetime(2026, 11, 29, tzinfo=UTC)),  # Saturday
        ("MONTH", datetime(2026, 12, 31, 12, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)),
    ],
)
def test_quota_periods_are_the_utc_day_the_week_from_sunday_and_the_month_from_the_first(period, now, start):
    assert period_start(period, now) == start


def test_the_bucket_holds_the_burst_and_refills_at_the_rate():
    clocks = Clocks()
    limits = limiter(clocks)
    plan = Plan("p", "Plan", throttle=(2.0, 3.0))

    burst = [limits.admit("k", plan) for _ in range(4)]
    clocks.seconds += 0.5  # one token back at 2 a second
    after_half = [limits.admit("k", plan) for _ in range(2)]
    clocks.seconds += 60  # never more than the burst
    after_a_minute = [limits.admit("k", plan) for _ in range(4)]

    assert burst == [None, None, None, THROTTLED]
    assert after_half == [None, THROTTLED]
    assert after_a_minute == [None, None, None, THROTTLED]
    assert limits.admit("other key", plan) is None  # each key has its own bucket


def test_the_quota_counts_admitted_requests_only_and_starts_over_each_period():
    clocks = Clocks()
    limits = limiter(clocks)
    plan = Plan("p", "Plan", throttle=(1.0, 1.0), quota=Quota(2, "DAY"))

    first = [limits.admit("k", plan) for _ in range(3)]  # the second is throttled, and not counted
    clocks.seconds += 1
    second = limits.admit("k", plan)
    clocks.seconds += 1
    third = limits.admit("k", plan)
    clocks.seconds += 9 * 3600  # past midnight UTC
    next_day = limits.admit("k", plan)

    assert first == [None, THROTTLED, THROTTLED]
    assert (second, third, next_day) == (None, QUOTA_EXCEEDED, None)


def test_the_offset_is_taken_off_the_first_period_only():
    clocks = Clocks()
    limits = limiter(clocks)
    plan = Plan("p", "Plan", quota=Quota(3, "WEEK", offset=2))

    first_week = [limits.admit("k", plan) for _ in range(2)]
    clocks.seconds += 7 * 86400
    next_week = [limits.admit("k", plan) for _ in range(4)]

    assert first_week == [None, QUOTA_EXCEEDED]
    assert next_week == [None, None, None, QUOTA_EXCEEDED]


def test_plans_read_from_api_gateway_keep_their_limits():
    plan = Plan.from_api(
        {"id": "p1", "name": "ClientUsagePlan", "throttle": {"rateLimit": 0.5, "burstLimit": 4}, "quota": {"limit": 9}}
    )

    assert plan == Plan("p1", "ClientUsagePlan", (0.5, 4.0), Quota(9, "DAY", 0))
    assert Plan.from_api({"id": "p2"}) == Plan("p2", "")  # no throttle, no quota


RECORD = AccessRecord(
    request_id="r-1",
    received=1796168400.25,  # 01/Dec/2026:23:40:00.25 UTC
    method="GET",
    resource_path="/clients/{clientId}",
    path="/clients/a",
    status=429,
    latency_ms=12,
    source_ip="127.0.0.1",
    authorizer={"principalId": "sub", "context": {"clientId": 'odd "id"\\\n', "jti": "j"}},
    api_key_id="key1",
    error_type="THROTTLED",
)


def test_the_default_line_has_every_field_and_api_gateways_time_format():
    line = json.loads(AccessLogFormat(DEFAULT_FORMAT).render(RECORD.variables()))

    assert line == {
        "requestId": "r-1",
        "time": "01/Dec/2026:23:40:00 +0000",
        "epochMs": 1796168400250,
        "method": "GET",
        "route": "/clients/{clientId}",
        "path": "/clients/a",
        "status": 429,
        "latencyMs": 12,
        "clientId": 'odd "id"\\\n',
        "apiKeyId": "key1",
        "error": "THROTTLED",
        "sourceIp": "127.0.0.1",
    }
    assert clf_time(0) == "01/Jan/1970:00:00:00 +0000"


def test_a_templates_format_is_rendered_as_valid_json_whatever_the_values():
    text = (
        '{"who":"$context.authorizer.clientId","n":$context.status,"missing":$context.nosuch,'
        '"also":"$context.identity.userAgent","sub":$context.authorizer.principalId,\n"route":"$context.resourcePath"}'
    )
    log_format = AccessLogFormat.from_template(text)

    line = log_format.render(RECORD.variables())

    assert "\n" not in line
    assert json.loads(line) == {
        "who": 'odd "id"\\\n',
        "n": 429,
        "missing": None,  # an unknown variable outside a string: null
        "also": "",  # and inside one: empty (headers never reach the log)
        "sub": "sub",
        "route": "/clients/{clientId}",
    }


def test_a_format_that_is_not_json_gets_the_default():
    clf = '$context.identity.sourceIp - - [$context.requestTime] "$context.httpMethod $context.path" $context.status'

    assert AccessLogFormat.from_template(clf).text == DEFAULT_FORMAT
    assert AccessLogFormat.from_template(None).text == DEFAULT_FORMAT


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("30m", 1800), ("1h", 3600), ("2d", 172800), ("all", None)])
def test_since_takes_a_duration_or_all(text, seconds):
    assert since_seconds(text) == seconds


@pytest.mark.parametrize("text", ["", "1", "h", "1w", "-1h", "1.5h"])
def test_since_refuses_anything_else(text):
    with pytest.raises(ValueError, match="--since"):
        since_seconds(text)


def line(epoch_ms: int, status: int, client: str = "0oaA", route: str = "/hello", method: str = "GET") -> str:
    entry = {"epochMs": epoch_ms, "method": method, "route": route, "status": status, "clientId": client}
    return json.dumps(entry)


def test_the_report_keeps_the_period_and_counts_by_client_route_and_status(tmp_path, capsys):
    log = tmp_path / "access.log"
    now = 1_000_000.0
    log.write_text(
        "\n".join(
            [
                line(int((now - 7200) * 1000), 200),  # before the period
                line(int((now - 60) * 1000), 200),
                line(int((now - 50) * 1000), 429),
                line(int((now - 40) * 1000), 201, route="/register", method="POST"),
                line(int((now - 30) * 1000), 401, client=""),
                line(int((now - 20) * 1000), 200, client="0oa0"),
                "not json",
                '{"no": "status"}',
            ]
        )
        + "\n"
    )

    assert usage_main(["--log", str(log), "--since", "1h"], now=now) == 0

    assert capsys.readouterr().out.splitlines() == [
        f"{log}, the last 1h: 5 requests, 3 clients",
        "",
        "client 0oa0: 1 request",
        "  route       200  total",
        "  GET /hello    1      1",
        "  total         1      1",
        "",
        "client 0oaA: 3 requests",
        "  route           200  201  429  total",
        "  GET /hello        1    0    1      2",
        "  POST /register    0    1    0      1",
        "  total             1    1    1      3",
        "",
        "client -: 1 request",
        "  route       401  total",
        "  GET /hello    1      1",
        "  total         1      1",
        "(2 lines skipped: not access log lines)",
    ]
    requests, skipped = read_log(log.read_text().splitlines(), 0)
    assert (len(requests), skipped) == (6, 2)


def test_a_missing_log_is_a_one_line_error(tmp_path, capsys):
    assert usage_main(["--log", str(tmp_path / "none.log")]) == 1

    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot read the access log {tmp_path / 'none.log'}") and err.count("\n") == 1


# --- what the gateway reads from a template, and the SAM CLI seams it relies on ---

ROOT = Path(__file__).resolve().parents[2]
PARAMS = {
    "Issuer": "http://127.0.0.1:9/oauth2/default",
    "OktaOrgUrl": "http://127.0.0.1:9",
    "OktaApiTokenSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:okta-api-token-AbCdEf",
}
KEYED = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Keyed:
    Type: AWS::Serverless::Api
    Properties:
      StageName: v1
      ApiKeySourceType: AUTHORIZER
      Auth: {ApiKeyRequired: true}
  Header:
    Type: AWS::Serverless::Api
    Properties:
      StageName: v1
      Auth: {ApiKeyRequired: true}
  Plan:
    Type: AWS::ApiGateway::UsagePlan
    Properties:
      UsagePlanName: gold
      ApiStages: [{ApiId: !Ref Keyed, Stage: v1}]
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.13
      CodeUri: .
      Handler: app.handler
      Events:
        Default: {Type: Api, Properties: {RestApiId: !Ref Keyed, Path: /a, Method: GET}}
        OptedOut: {Type: Api, Properties: {RestApiId: !Ref Keyed, Path: /b, Method: GET, Auth: {ApiKeyRequired: false}}}
        Any: {Type: Api, Properties: {RestApiId: !Ref Keyed, Path: /c, Method: ANY}}
        FromHeader: {Type: Api, Properties: {RestApiId: !Ref Header, Path: /d, Method: GET}}
"""


def test_every_route_of_template_yaml_requires_a_key_of_the_client_usage_plan():
    stacks, _ = SamLocalStackProvider.get_stacks(str(ROOT / "template.yaml"), parameter_overrides=PARAMS)
    settings = GatewaySettings.from_stacks(stacks)

    routes = {(path, method) for method, path in api_events()}  # every Api event of the template
    # Both plans that name the API's stage: the per-client one, and the shared one of PerClientApiKeys=false. Only
    # the one its condition makes exists (in moto, as on AWS), and a key must be in a plan that exists.
    assert settings.keyed_routes == dict.fromkeys(routes, frozenset({"ClientUsagePlan", "SharedUsagePlan"}))
    assert settings.access_log_format is not None
    assert AccessLogFormat.from_template(settings.access_log_format).text != DEFAULT_FORMAT  # the template's own
    assert settings.response("INVALID_API_KEY").status == 403
    assert settings.response("THROTTLED").headers["Retry-After"] == "1"


def test_keys_are_required_as_the_api_and_its_events_say_with_the_plans_that_cover_the_api(tmp_path):
    (tmp_path / "template.yaml").write_text(KEYED)
    stacks, _ = SamLocalStackProvider.get_stacks(str(tmp_path / "template.yaml"), parameter_overrides={})
    settings = GatewaySettings.from_stacks(stacks)

    assert settings.plan_names("/a", "get") == frozenset({"Plan", "gold"})
    assert settings.plan_names("/b", "GET") is None  # the event opts out
    assert settings.plan_names("/c", "DELETE") == frozenset({"Plan", "gold"})  # ANY
    assert settings.plan_names("/d", "GET") is None  # keys from the x-api-key header: not enforced locally
    assert settings.access_log_format is None


def test_sam_cli_seams_the_usage_plan_and_access_log_rely_on():
    # The route's function is invoked through _invoke_lambda_function: the usage plan is applied there.
    handler = inspect.getsource(LocalApigwService._request_handler)
    assert "self._invoke_lambda_function(route.function_name, route_lambda_event, tenant_id)" in handler
    # The access log's route is the Flask endpoint, turned back into the template's path.
    assert PathConverter.convert_path_to_api_gateway("/clients/<clientId>") == "/clients/{clientId}"
    with Flask(__name__).app_context():
        missing = ServiceErrorResponses.route_not_found(None)
    assert (missing.status_code, missing.get_json()) == (403, {"message": "Missing Authentication Token"})

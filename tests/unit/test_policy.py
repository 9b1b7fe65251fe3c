"""IAM policy building for the TOKEN authorizer."""

import pytest

from okta_m2m.policy import allowed_routes, api_prefix, policy_response, route_grants


def test_api_prefix_keeps_region_account_api_and_stage():
    arn = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/v1/POST/register"
    assert api_prefix(arn) == "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/v1"


def test_api_prefix_handles_other_partitions_and_the_root_route():
    arn = "arn:aws-cn:execute-api:cn-north-1:123456789012:abc/prod/GET/"
    assert api_prefix(arn) == "arn:aws-cn:execute-api:cn-north-1:123456789012:abc/prod"


@pytest.mark.parametrize(
    "arn",
    [
        "",
        "arn:aws:lambda:us-east-1:1:function:x",
        "arn:aws:execute-api:us-east-1:1:abc",
        "arn:aws:execute-api:r:1:/v1/GET",
    ],
)
def test_api_prefix_refuses_what_is_not_a_method_arn(arn):
    with pytest.raises(ValueError):
        api_prefix(arn)


def test_each_scope_opens_its_routes_only():
    grants = route_grants("hello", "register")
    assert allowed_routes(("hello",), grants) == ("GET/hello", "GET/")
    assert allowed_routes(("register",), grants) == ("POST/register",)
    assert allowed_routes(("openid", "profile"), grants) == ()
    assert allowed_routes(("register", "hello", "hello"), grants) == ("POST/register", "GET/hello", "GET/")


def test_one_scope_may_open_both_route_groups_and_an_empty_scope_opens_nothing():
    assert allowed_routes(("api",), route_grants("api", "api")) == ("GET/hello", "GET/", "POST/register")
    assert allowed_routes(("",), route_grants("hello", "")) == ()


def test_policy_response_has_the_api_gateway_shape():
    response = policy_response("sub1", "Allow", ["arn:x/GET/hello"], {"clientId": "c"})
    assert response == {
        "principalId": "sub1",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": ["arn:x/GET/hello"]}],
        },
        "context": {"clientId": "c"},
    }

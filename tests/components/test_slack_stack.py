"""The leave stack with and without `slack_signing_secret`: the secret goes to Secrets Manager
(service key), the commands function gets only its ARN and may read only it, the public
`POST /slack/interactions` route exists only when the secret is configured; and
`FunctionSpec.secrets` refuses names that are not environment-style or that clash."""

from __future__ import annotations

import json
from typing import Any

import pytest
from acme_eventsourcing import FunctionSpec
from acme_eventsourcing.testing import RecordedStack
from acme_eventsourcing.testing.policy import PublicFunctionsHoldNoSecrets, check_stack
from stacks_under_test import recorded_stack

SECRET_VALUE = "slack-signing-secret-under-test"
SLACK = (("leave:slack_signing_secret", SECRET_VALUE),)
ROUTE = "aws:apigatewayv2/route:Route"


@pytest.fixture(scope="module")
def with_slack() -> RecordedStack:
    return recorded_stack("dev", SLACK)


@pytest.fixture(scope="module")
def without_slack() -> RecordedStack:
    return recorded_stack("dev")


def routes(stack: RecordedStack) -> dict[str, Any]:
    return {r.inputs["routeKey"]: r for r in stack.resources if r.type == ROUTE}


def one(stack: RecordedStack, type_: str, name: str | None = None) -> Any:
    (found,) = [r for r in stack.resources if r.type == type_ and (name is None or r.name == name)]
    return found


def test_the_interactions_route_is_public_and_exists_only_with_a_signing_secret(
    with_slack: RecordedStack, without_slack: RecordedStack
) -> None:
    assert routes(with_slack)["POST /slack/interactions"].inputs["authorizationType"] == "NONE"
    assert "POST /slack/interactions" not in routes(without_slack)
    assert not [r for r in without_slack.resources if r.type.startswith("aws:secretsmanager")]
    for stack in (with_slack, without_slack):  # linking is an ordinary authorised command
        assert routes(stack)["PUT /slack-links/{team_id}/{user_id}"].inputs["authorizationType"] == "JWT"


def test_the_secret_is_in_secrets_manager_under_the_service_key_and_only_its_arn_in_the_environment(with_slack: RecordedStack) -> None:
    secret = one(with_slack, "aws:secretsmanager/secret:Secret")
    version = one(with_slack, "aws:secretsmanager/secretVersion:SecretVersion")
    commands = one(with_slack, "aws:lambda/function:Function", "leave-commands")
    assert secret.inputs["kmsKeyId"] == commands.inputs["kmsKeyArn"]  # the service's own key
    assert version.inputs["secretString"] == SECRET_VALUE and version.is_secret("secretString")
    assert commands.inputs["environment"]["variables"]["SLACK_SIGNING_SECRET_ARN"] == secret.state["arn"]
    functions = [r.inputs for r in with_slack.resources if r.type == "aws:lambda/function:Function"]
    assert SECRET_VALUE not in json.dumps(functions)
    assert SECRET_VALUE not in json.dumps(dict(with_slack.outputs), default=str)


def test_only_the_commands_function_may_read_the_secret_and_only_it(with_slack: RecordedStack) -> None:
    arn = one(with_slack, "aws:secretsmanager/secret:Secret").state["arn"]
    readers = {}
    for policy in (r for r in with_slack.resources if r.type == "aws:iam/rolePolicy:RolePolicy"):
        for statement in json.loads(policy.inputs["policy"])["Statement"]:
            if any("secretsmanager" in a for a in statement["Action"]):
                readers[policy.name] = (statement["Action"], statement["Resource"])
    assert readers == {"leave-commands-policy": (["secretsmanager:GetSecretValue"], [arn])}


def test_the_stack_with_slack_passes_the_policy_rules(with_slack: RecordedStack) -> None:
    # the commands function (the two documents, the Slack endpoint) and the queries function (calendar feeds);
    # not the live functions behind a WebSocket API's $disconnect/$default: those run on authorised connections
    assert PublicFunctionsHoldNoSecrets().checked(with_slack) == 2
    report = check_stack(with_slack)
    assert report.ok, report.render()


@pytest.mark.parametrize(
    ("secrets", "environment", "problem"),
    [
        ({"slack-secret": "x"}, {}, "upper-case"),
        ({"SIGNING": "x"}, {"SIGNING_ARN": "arn:..."}, "also in environment"),
        ({"SIGNING": "x"}, {"SIGNING": "x"}, "also in environment"),
    ],
)
def test_function_secrets_are_named_like_environment_variables_and_never_also_in_it(
    secrets: dict[str, str], environment: dict[str, str], problem: str
) -> None:
    spec = FunctionSpec(handler="app.handler", code_root=".", packages=("app",), secrets=secrets, environment=environment)
    with pytest.raises(ValueError, match=problem):
        spec.validate("fn")

"""ApiDestination under mocks, and the API destination policy rules (APD001-APD004).

The component's stack passes every default rule; raw pulumi_aws stacks with one thing broken
each are reported by exactly the rule that guards it, saying why (the negative tests).
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest
from acme_eventsourcing import (
    ApiDestination,
    ApiDestinationArgs,
    ApiKeyAuth,
    BasicAuth,
    ConnectionAuth,
    EventBusRef,
    EventSourcedService,
    EventSourcedServiceArgs,
    HttpDestinationSpec,
    MessageSpec,
    OAuthClientCredentialsAuth,
    ServiceDefaults,
)
from acme_eventsourcing.testing import RecordedStack, record
from acme_eventsourcing.testing.policy import (
    ConnectionSecretsNotPlain,
    DestinationRolesScoped,
    DestinationsRateLimited,
    DestinationTargetsHandleFailures,
    Rule,
    check_stack,
)

ACCOUNT = "123456789012"
BUS = EventBusRef(bus_name="shared", bus_arn=f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/shared")
TEMPLATE = '{"channel":"C1","text":"<who> asked","note":<note>}'
ALARMS = (f"arn:aws:sns:us-east-1:{ACCOUNT}:alarms",)
TARGET = "aws:cloudwatch/eventTarget:EventTarget"


def message_spec(name: str = "requested", detail_type: str = "LeaveRequested") -> MessageSpec:
    return MessageSpec(
        name=name,
        sources=("acme.leave",),
        detail_types=(detail_type,),
        input_paths={"who": "$.detail.data.employee_id", "note": "$.detail.data.note"},
        input_template=TEMPLATE,
    )


def spec(**overrides: Any) -> HttpDestinationSpec:
    settings: dict[str, Any] = {
        "name": "slack",
        "endpoint": "https://slack.com/api/chat.postMessage",
        "auth": ConnectionAuth(api_key=ApiKeyAuth(header="Authorization", value=pulumi.Output.secret("Bearer xoxb-1"))),
        "messages": [message_spec(), message_spec("approved", "LeaveApproved")],
        "invocation_rate_limit_per_second": 1,
        "header_parameters": {"Idempotency-Key": "$.detail.metadata.event_id"},
    }
    settings.update(overrides)
    return HttpDestinationSpec(**settings)


@pytest.fixture(scope="module")
def service() -> RecordedStack:
    def program() -> None:
        service = EventSourcedService(
            "notify",
            EventSourcedServiceArgs(source="acme.notify", bus=BUS, destinations=[spec()], defaults=ServiceDefaults(alarm_actions=ALARMS)),
        )
        pulumi.export("dlq_urls", service.dlq_urls)
        pulumi.export("operations", service.operations)

    return record(program)


def test_a_service_with_only_a_destination_has_no_function_and_one_rule_per_message(service: RecordedStack) -> None:
    counts = service.counts()
    assert "aws:lambda/function:Function" not in counts and "aws:dynamodb/table:Table" not in counts
    assert counts["aws:cloudwatch/eventConnection:EventConnection"] == 1
    assert counts["aws:cloudwatch/eventApiDestination:EventApiDestination"] == 1
    assert counts["aws:cloudwatch/eventRule:EventRule"] == counts[TARGET] == 2
    rule = service.one("aws:cloudwatch/eventRule:EventRule", "notify-slack-requested-rule")
    assert json.loads(rule.inputs["eventPattern"]) == {"source": ["acme.leave"], "detail-type": ["LeaveRequested"]}
    assert rule.inputs["eventBusName"] == "shared"
    assert set(service.outputs["dlq_urls"]) == {"slack"}
    assert service.outputs["operations"]["destinations"]["slack"]["endpoint"] == "https://slack.com/api/chat.postMessage"


def test_the_targets_transform_retry_and_dead_letter(service: RecordedStack) -> None:
    destination = service.one("aws:cloudwatch/eventApiDestination:EventApiDestination", "notify-slack-destination")
    assert destination.inputs["invocationRateLimitPerSecond"] == 1 and destination.inputs["httpMethod"] == "POST"
    dlq = service.one("aws:sqs/queue:Queue", "notify-slack-dlq")
    assert dlq.inputs["kmsMasterKeyId"] == service.one("aws:kms/key:Key", "notify-key").state["arn"]
    target = service.one(TARGET, "notify-slack-requested-target")
    assert target.inputs["arn"] == destination.state["arn"]
    assert target.inputs["inputTransformer"] == {
        "inputPaths": {"who": "$.detail.data.employee_id", "note": "$.detail.data.note"},
        "inputTemplate": TEMPLATE,
    }
    assert target.inputs["retryPolicy"] == {"maximumRetryAttempts": 10, "maximumEventAgeInSeconds": 3600}
    assert target.inputs["deadLetterConfig"] == {"arn": dlq.state["arn"]}
    assert target.inputs["httpTarget"] == {"headerParameters": {"Idempotency-Key": "$.detail.metadata.event_id"}}
    alarm = service.one("aws:cloudwatch/metricAlarm:MetricAlarm", "notify-slack-dlq-depth")
    assert alarm.inputs["alarmActions"] == list(ALARMS)


def test_the_dlq_takes_messages_from_these_rules_only(service: RecordedStack) -> None:
    policy = json.loads(service.one("aws:sqs/queuePolicy:QueuePolicy", "notify-slack-dlq-policy").inputs["policy"])
    senders = next(s for s in policy["Statement"] if s["Sid"] == "AllowRuleDeadLetters")
    rules = sorted(r.state["arn"] for r in service.of_type("aws:cloudwatch/eventRule:EventRule"))
    assert sorted(senders["Condition"]["ArnEquals"]["aws:SourceArn"]) == rules


def test_the_role_may_invoke_this_destination_only(service: RecordedStack) -> None:
    role = service.one("aws:iam/role:Role", "notify-slack-role")
    assert json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]["Principal"] == {"Service": "events.amazonaws.com"}
    policy = json.loads(service.one("aws:iam/rolePolicy:RolePolicy", "notify-slack-invoke").inputs["policy"])
    destination = service.one("aws:cloudwatch/eventApiDestination:EventApiDestination", "notify-slack-destination")
    assert [(s["Action"], s["Resource"]) for s in policy["Statement"]] == [(["events:InvokeApiDestination"], [destination.state["arn"]])]
    assert {t.inputs["roleArn"] for t in service.of_type(TARGET)} == {role.state["arn"]}


def test_the_credential_is_a_secret_and_the_stack_passes_every_rule(service: RecordedStack) -> None:
    connection = service.one("aws:cloudwatch/eventConnection:EventConnection", "notify-slack-connection")
    assert connection.inputs["authorizationType"] == "API_KEY"
    assert connection.is_secret("authParameters", "apiKey", "value")
    assert "xoxb-1" not in json.dumps(service.outputs)
    report = check_stack(service)
    assert report.ok, report.render()
    for rule_id in ("APD001", "APD002", "APD003", "APD004"):
        assert next(r for r in report.results if r.rule.id == rule_id).checked


@pytest.mark.parametrize(
    ("auth", "kind", "path"),
    [
        (ConnectionAuth(basic=BasicAuth(username="u", password=pulumi.Output.secret("p"))), "BASIC", ("basic", "password")),
        (
            ConnectionAuth(
                oauth=OAuthClientCredentialsAuth(
                    authorization_endpoint="https://id.example/token",
                    client_id="c",
                    client_secret=pulumi.Output.secret("s"),
                    body_parameters={"scope": "notify"},
                )
            ),
            "OAUTH_CLIENT_CREDENTIALS",
            ("oauth", "clientParameters", "clientSecret"),
        ),
    ],
    ids=["basic", "oauth"],
)
def test_basic_and_oauth_connections_keep_their_secret(auth: ConnectionAuth, kind: str, path: tuple[str, ...]) -> None:
    stack = record(lambda: ApiDestination("d", ApiDestinationArgs(source="acme.x", bus=BUS, destination=spec(auth=auth))))
    connection = stack.one("aws:cloudwatch/eventConnection:EventConnection", "d-connection")
    assert connection.inputs["authorizationType"] == kind
    assert connection.is_secret("authParameters", *path)
    assert ConnectionSecretsNotPlain().check(stack) == []


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"endpoint": "http://slack.com/api"}, "endpoint must be an https URL"),
        ({"invocation_rate_limit_per_second": 0}, "invocation_rate_limit_per_second must be within 1..300"),
        ({"auth": ConnectionAuth(api_key=ApiKeyAuth(header="Authorization", value="Bearer plain"))}, "must be a Pulumi secret"),
        ({"auth": ConnectionAuth()}, "give exactly one of api_key, basic, oauth"),
        ({"messages": []}, "at least one kind of message"),
        ({"messages": [message_spec(), message_spec()]}, "duplicate message names"),
        ({"maximum_event_age_in_seconds": 30}, "maximum_event_age_in_seconds must be within 60..86400"),
        (
            {"messages": [MessageSpec(name="m", sources=("acme.leave",), detail_types=("X",), input_paths={}, input_template="<nope>")]},
            "undefined variables ['nope']",
        ),
        (
            {
                "messages": [
                    MessageSpec(name="m", sources=("acme.leave",), detail_types=("X",), input_paths={"a": "detail.a"}, input_template="<a>")
                ]
            },
            "is not a JSON path",
        ),
    ],
)
def test_invalid_destinations_are_refused_before_anything_is_created(overrides: dict[str, Any], error: str) -> None:
    with pytest.raises(ValueError, match=error.replace("[", r"\[").replace("]", r"\]").replace(".", r"\.")):
        spec(**overrides).validate()


def test_destination_names_are_unique_in_a_service() -> None:
    with pytest.raises(ValueError, match="must be unique"):
        EventSourcedServiceArgs(source="acme.x", bus=BUS, destinations=[spec(), spec()]).validate()


# -- the rules against raw resources ---------------------------------------------------------------

DEST_ARN = f"arn:aws:events:us-east-1:{ACCOUNT}:api-destination/raw/1"


def raw_destination(
    name: str,
    *,
    rate: int | None = 1,
    secret: bool = True,
    retry: dict[str, int] | None = None,
    dlq: bool = True,
    statements: list[dict[str, Any]] | None = None,
    role_arn: Any = None,
) -> None:
    """A destination with a connection, a rule, a target and a role, correct unless a keyword
    breaks one thing."""
    value: Any = pulumi.Output.secret("k") if secret else "k"
    connection = aws.cloudwatch.EventConnection(
        f"{name}-connection", authorization_type="API_KEY", auth_parameters={"api_key": {"key": "x-api-key", "value": value}}
    )
    destination = aws.cloudwatch.EventApiDestination(
        f"{name}-destination",
        connection_arn=connection.arn,
        invocation_endpoint="https://hooks.example/x",
        http_method="POST",
        **({"invocation_rate_limit_per_second": rate} if rate is not None else {}),
    )
    if role_arn is None:
        doc = pulumi.Output.json_dumps(
            {
                "Version": "2012-10-17",
                "Statement": statements
                if statements is not None
                else [{"Effect": "Allow", "Action": "events:InvokeApiDestination", "Resource": destination.arn}],
            }
        )
        role = aws.iam.Role(f"{name}-role", assume_role_policy=json.dumps({"Version": "2012-10-17", "Statement": []}))
        aws.iam.RolePolicy(f"{name}-policy", role=role.id, policy=doc)
        role_arn = role.arn
    rule = aws.cloudwatch.EventRule(f"{name}-rule", event_pattern=json.dumps({"source": ["acme.leave"]}))
    queue = aws.sqs.Queue(f"{name}-dlq")
    aws.cloudwatch.EventTarget(
        f"{name}-target",
        rule=rule.name,
        arn=destination.arn,
        role_arn=role_arn,
        retry_policy={"maximum_retry_attempts": 3, "maximum_event_age_in_seconds": 3600} if retry is None else retry,
        **({"dead_letter_config": {"arn": queue.arn}} if dlq else {}),
    )


BROKEN: dict[str, dict[str, str]] = {
    "APD001": {
        "no-dlq-target": "API destination target",
        "ageless-target": "API destination target",
    },
    "APD002": {"unlimited-destination": "invocation_rate_limit_per_second is None; set it within 1..300"},
    "APD003": {"plain-connection": "API_KEY: authParameters.apiKey.value is a plain value; read it with config.require_secret"},
    "APD004": {
        "wild-role": "role 'wild-role' policy: a statement without Sid allows 'events:*'; only events:InvokeApiDestination is needed",
        "broad-role": "role 'broad-role' policy: a statement without Sid allows 'events:InvokeApiDestination' on ['*']",
        "undeclared-target": f"role_arn 'arn:aws:iam::{ACCOUNT}:role/elsewhere' is not a role declared in this stack",
    },
}
RULES: dict[str, Rule] = {
    r.id: r for r in (DestinationTargetsHandleFailures(), DestinationsRateLimited(), ConnectionSecretsNotPlain(), DestinationRolesScoped())
}


@pytest.fixture(scope="module")
def raw() -> RecordedStack:
    def program() -> None:
        raw_destination("good")
        raw_destination("no-dlq", dlq=False)
        raw_destination("ageless", retry={"maximum_retry_attempts": 3})
        raw_destination("unlimited", rate=None)
        raw_destination("plain", secret=False)
        raw_destination("wild", statements=[{"Effect": "Allow", "Action": "events:*", "Resource": "*"}])
        raw_destination("broad", statements=[{"Effect": "Allow", "Action": "events:InvokeApiDestination", "Resource": "*"}])
        raw_destination("undeclared", role_arn=f"arn:aws:iam::{ACCOUNT}:role/elsewhere")

    return record(program)


@pytest.mark.parametrize("rule_id", sorted(BROKEN))
def test_each_rule_reports_exactly_its_broken_resources(raw: RecordedStack, rule_id: str) -> None:
    found = sorted(v.resource_name for v in RULES[rule_id].check(raw))
    assert found == sorted(BROKEN[rule_id])
    assert RULES[rule_id].checked(raw) == 8  # every destination (APD001, APD002, APD004) or connection (APD003)


@pytest.mark.parametrize(("rule_id", "resource", "why"), [(r, n, w) for r, b in BROKEN.items() for n, w in b.items()])
def test_each_rule_says_why(raw: RecordedStack, rule_id: str, resource: str, why: str) -> None:
    messages = [v.message for v in RULES[rule_id].check(raw) if v.resource_name == resource]
    assert len(messages) == 1 and messages[0].startswith(why), messages


def test_apd001_names_the_missing_dlq_and_event_age(raw: RecordedStack) -> None:
    by_name = {v.resource_name: v.message for v in DestinationTargetsHandleFailures().check(raw)}
    assert "no dead_letter_config" in by_name["no-dlq-target"]
    assert "maximum_event_age_in_seconds must be set within 60..86400" in by_name["ageless-target"]


def test_apd003_finds_a_credential_shown_in_an_output() -> None:
    def program() -> None:
        raw_destination("leaky")
        pulumi.export("oops", "k")

    stack = record(program)
    assert [v.message for v in ConnectionSecretsNotPlain().check(stack)] == ["API_KEY: a stack output shows the credential"]

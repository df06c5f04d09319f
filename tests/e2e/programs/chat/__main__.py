"""A program that is not this repository's: plain pulumi_aws, a WebSocket API (API Gateway v2)
with a Lambda REQUEST authorizer on $connect, the $connect/$disconnect/$default routes, an
`echo`, a two-way `whoami` and a `post` route, and a table of connections."""

import json
from pathlib import Path

import pulumi
import pulumi_aws as aws

region = aws.get_region()
table = aws.dynamodb.Table(
    "chat-connections", attributes=[aws.dynamodb.TableAttributeArgs(name="id", type="S")], hash_key="id", billing_mode="PAY_PER_REQUEST"
)
role = aws.iam.Role(
    "chat-role",
    assume_role_policy=json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
        }
    ),
)
api = aws.apigatewayv2.Api("chat-ws", protocol_type="WEBSOCKET", route_selection_expression="$request.body.action")
stage_name = "live"
code = pulumi.AssetArchive({"app": pulumi.FileArchive(str(Path(__file__).parent / "app"))})
environment = aws.lambda_.FunctionEnvironmentArgs(
    variables={
        "TABLE_NAME": table.name,
        "ISSUER": "https://issuer.example.com",  # the authorizer fetches its JWKS (locally: the local key's)
        "CONNECTIONS_ENDPOINT": pulumi.Output.concat("https://", api.id, ".execute-api.", region.name, ".amazonaws.com/", stage_name),
    }
)


def function(name: str, handler: str) -> aws.lambda_.Function:
    return aws.lambda_.Function(name, runtime="python3.12", handler=handler, role=role.arn, code=code, environment=environment)


authorizer_fn = function("chat-authorizer", "app.authorizer.handler")
authorizer = aws.apigatewayv2.Authorizer(
    "chat-auth",
    api_id=api.id,
    authorizer_type="REQUEST",
    authorizer_uri=authorizer_fn.invoke_arn,
    identity_sources=["route.request.querystring.token"],
)
for key, handler in (("$connect", "connect"), ("$disconnect", "disconnect"), ("$default", "default"), ("echo", "default"),
                     ("whoami", "default"), ("post", "default")):  # fmt: skip
    fn = function(f"chat-{key.strip('$')}", f"app.handler.{handler}")
    integration = aws.apigatewayv2.Integration(
        f"chat-{key.strip('$')}-integration", api_id=api.id, integration_type="AWS_PROXY", integration_uri=fn.invoke_arn
    )
    route = aws.apigatewayv2.Route(
        f"chat-{key.strip('$')}-route",
        api_id=api.id,
        route_key=key,
        target=integration.id.apply(lambda i: f"integrations/{i}"),
        authorization_type="CUSTOM" if key == "$connect" else "NONE",
        authorizer_id=authorizer.id if key == "$connect" else None,
        route_response_selection_expression="$default" if key == "whoami" else None,
    )
    if key == "whoami":
        aws.apigatewayv2.RouteResponse("chat-whoami-response", api_id=api.id, route_id=route.id, route_response_key="$default")
    aws.lambda_.Permission(
        f"chat-{key.strip('$')}-permission", action="lambda:InvokeFunction", function=fn.name, principal="apigateway.amazonaws.com"
    )
stage = aws.apigatewayv2.Stage("chat-stage", api_id=api.id, name=stage_name, auto_deploy=True)
pulumi.export("websocket_url", pulumi.Output.concat("wss://", api.id, ".execute-api.", region.name, ".amazonaws.com/", stage_name))

"""A program that is not this repository's: plain pulumi_aws, no acme_eventsourcing component."""

import json
from pathlib import Path

import pulumi
import pulumi_aws as aws

config = pulumi.Config()
table = aws.dynamodb.Table(
    "notes",
    attributes=[aws.dynamodb.TableAttributeArgs(name="owner", type="S"), aws.dynamodb.TableAttributeArgs(name="text", type="S")],
    hash_key="owner",
    range_key="text",
    billing_mode="PAY_PER_REQUEST",
)
role = aws.iam.Role(
    "notes-role",
    assume_role_policy=json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
        }
    ),
)
function = aws.lambda_.Function(
    "notes-api",
    runtime="python3.12",
    handler="app.handler.handler",
    role=role.arn,
    code=pulumi.AssetArchive({"app": pulumi.FileArchive(str(Path(__file__).parent / "app"))}),
    environment=aws.lambda_.FunctionEnvironmentArgs(variables={"TABLE_NAME": table.name, "GREETING": config.require("greeting")}),
)
api = aws.apigatewayv2.Api("notes-http", protocol_type="HTTP")
integration = aws.apigatewayv2.Integration(
    "notes-integration", api_id=api.id, integration_type="AWS_PROXY", integration_uri=function.invoke_arn, payload_format_version="2.0"
)
authorizer = aws.apigatewayv2.Authorizer(
    "notes-jwt",
    api_id=api.id,
    authorizer_type="JWT",
    identity_sources=["$request.header.Authorization"],
    jwt_configuration=aws.apigatewayv2.AuthorizerJwtConfigurationArgs(issuer="https://issuer.example.com", audiences=["notes"]),
)
for key, auth in (("GET /hello", None), ("POST /notes", authorizer), ("GET /notes", authorizer)):
    aws.apigatewayv2.Route(
        f"notes-route-{key.replace(' ', '').replace('/', '-').lower()}",
        api_id=api.id,
        route_key=key,
        target=integration.id.apply(lambda i: f"integrations/{i}"),
        authorization_type="JWT" if auth else "NONE",
        authorizer_id=auth.id if auth else None,
    )
aws.apigatewayv2.Stage("notes-stage", api_id=api.id, name="$default", auto_deploy=True)
pulumi.export("api_url", api.api_endpoint)

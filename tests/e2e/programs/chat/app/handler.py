"""The routes: $connect and $disconnect keep a record of each connection; `echo` posts the
message back through the Management API (at CONNECTIONS_ENDPOINT); `whoami` answers through
its route response; `post` posts to another connection id and answers what the API said."""

import json
import os

import boto3
from botocore.exceptions import ClientError

table = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])
connections = boto3.client("apigatewaymanagementapi", endpoint_url=os.environ["CONNECTIONS_ENDPOINT"])


def connect(event, _context):
    ctx = event["requestContext"]
    if (event.get("queryStringParameters") or {}).get("refuse"):
        return {"statusCode": 429}
    table.put_item(Item={"id": ctx["connectionId"], "state": "connected", "user": ctx["authorizer"]["user"], "event": json.dumps(event)})
    return {"statusCode": 200}


def disconnect(event, _context):
    ctx = event["requestContext"]
    table.put_item(
        Item={"id": ctx["connectionId"], "state": "disconnected", "code": ctx["disconnectStatusCode"], "event": json.dumps(event)}
    )
    return {"statusCode": 200}


def default(event, _context):
    ctx = event["requestContext"]
    body = event.get("body") or ""
    try:
        message = json.loads(body)
    except ValueError:
        message = {}
    action = message.get("action") if isinstance(message, dict) else None
    if ctx["routeKey"] == "whoami":
        return {"statusCode": 200, "body": json.dumps({"user": ctx["authorizer"]["user"], "connectionId": ctx["connectionId"]})}
    if ctx["routeKey"] == "post":
        try:
            connections.post_to_connection(ConnectionId=message["to"], Data=message["text"].encode())
            answer = {"posted": True}
        except ClientError as exc:
            answer = {"error": exc.response["Error"]["Code"], "status": exc.response["ResponseMetadata"]["HTTPStatusCode"]}
        connections.post_to_connection(ConnectionId=ctx["connectionId"], Data=json.dumps(answer).encode())
        return {"statusCode": 200}
    # echo and $default: the body back, with what the handler saw; via a client on the event's own domain
    own = boto3.client("apigatewaymanagementapi", endpoint_url=f"https://{ctx['domainName']}/{ctx['stage']}")
    seen = {"route": ctx["routeKey"], "action": action, "body": body, "user": ctx["authorizer"]["user"], "eventType": ctx["eventType"]}
    own.post_to_connection(ConnectionId=ctx["connectionId"], Data=json.dumps(seen).encode())
    return {"statusCode": 200}

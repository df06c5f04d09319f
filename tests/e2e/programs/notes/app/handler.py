"""Notes: POST /notes stores a note for the caller, GET /notes lists theirs, GET /hello is public."""

import json
import os

import boto3

table = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])


def handler(event, _context):
    route = event["routeKey"]
    if route == "GET /hello":
        return {"statusCode": 200, "body": json.dumps({"greeting": os.environ["GREETING"]})}
    caller = event["requestContext"]["authorizer"]["jwt"]["claims"]["sub"]
    if route == "POST /notes":
        note = json.loads(event.get("body") or "{}").get("text")
        if not isinstance(note, str) or not note:
            return {"statusCode": 400, "body": json.dumps({"error": "text: a non-empty string is required"})}
        table.put_item(Item={"owner": caller, "text": note})
        return {"statusCode": 201, "body": json.dumps({"owner": caller, "text": note})}
    items = table.query(
        KeyConditionExpression="#o = :o", ExpressionAttributeNames={"#o": "owner"}, ExpressionAttributeValues={":o": caller}
    )["Items"]
    return {"statusCode": 200, "body": json.dumps(sorted(i["text"] for i in items))}

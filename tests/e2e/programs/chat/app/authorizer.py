"""The $connect REQUEST authorizer: `?token=let-me-in:<user>` is allowed (context user = <user>),
`deny` is denied by policy, `unauthorized` raises API Gateway's Unauthorized, anything else crashes."""


def handler(event, _context):
    token = (event.get("queryStringParameters") or {}).get("token", "")
    if token == "unauthorized":
        raise Exception("Unauthorized")  # noqa: TRY002 - the error API Gateway turns into 401
    if token == "deny" or token.startswith("let-me-in:"):
        user = token.partition(":")[2] or "nobody"
        effect = "Allow" if token.startswith("let-me-in:") else "Deny"
        return {
            "principalId": user,
            "policyDocument": {
                "Version": "2012-10-17",
                "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": event["methodArn"]}],
            },
            "context": {"user": user, "seen_route": event["requestContext"]["routeKey"], "type": event["type"]},
        }
    raise RuntimeError(f"cannot read token {token!r}")

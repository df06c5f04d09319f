"""Test-wide settings: fake AWS credentials, a fixed region, and the endpoint-mode fix.

Recent boto3 sends DynamoDB Streams calls to account-based endpoints that moto does not
recognise; `AWS_ACCOUNT_ID_ENDPOINT_MODE=disabled` keeps them on the regional endpoint.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for p in (ROOT, ROOT / "lambdas"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

os.environ.update(
    {
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
    }
)
for var in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
    os.environ.pop(var, None)

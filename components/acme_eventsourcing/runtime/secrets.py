"""Secrets a function reads from AWS Secrets Manager at cold start, kept for the container's life.

A component gives a function a secret as the ARN of a Secrets Manager secret in an environment
variable (`FunctionSpec.secrets`: `NAME` -> `NAME_ARN`), never the value itself: the value is
encrypted with the service's KMS key at rest and only the function's role may read it.

    secret = secret_from_env("SLACK_SIGNING_SECRET")   # reads SLACK_SIGNING_SECRET_ARN, once

stdlib and boto3 only (it ships in function zips).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping

ARN_SUFFIX = "_ARN"

_cache: dict[str, str] = {}
_lock = threading.Lock()


class SecretNotConfigured(LookupError):
    """The function's environment names no secret of that name."""


def env_name(name: str) -> str:
    """The environment variable holding the ARN of the secret `name` (`NAME_ARN`)."""
    return f"{name}{ARN_SUFFIX}"


def secret_value(arn: str, *, fetch: Callable[[str], str] | None = None) -> str:
    """The secret's current string value, fetched once per ARN and container (`fetch(arn)`
    defaults to Secrets Manager's `GetSecretValue`)."""
    with _lock:
        if arn in _cache:
            return _cache[arn]
    value = (fetch or _get_secret_value)(arn)
    with _lock:
        _cache.setdefault(arn, value)
        return _cache[arn]


def secret_from_env(name: str, environ: Mapping[str, str] | None = None, *, fetch: Callable[[str], str] | None = None) -> str:
    """The value of the secret whose ARN is in `NAME_ARN`; `SecretNotConfigured` if unset."""
    arn = (os.environ if environ is None else environ).get(env_name(name), "").strip()
    if not arn:
        raise SecretNotConfigured(f"{env_name(name)} is not set")
    return secret_value(arn, fetch=fetch)


def forget() -> None:
    """Drop every cached value (tests; a rotated secret is read again by new containers)."""
    with _lock:
        _cache.clear()


def _get_secret_value(arn: str) -> str:
    import boto3  # deferred: importing this module must not need AWS

    return str(boto3.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"])

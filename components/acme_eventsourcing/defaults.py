"""What every component of a service shares: `ServiceDefaults`, and how functions are declared.

`EventSourcedService` builds its child components (`EventPublisher`, `HttpApi`, `Projection`,
`Subscription`) with one `ServiceDefaults`; a child used alone takes the same object.
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi

from . import _iam, _kms, _lambda
from .refs import KmsKeyRef, resolve

_HANDLER = re.compile(r"^[A-Za-z_][\w.]*\.[A-Za-z_]\w*$")
_SECRET_NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,59}$")
#: The suffix of the environment variable holding a secret's ARN (`FunctionSpec.secrets`);
#: the function reads it with `acme_eventsourcing.runtime.secrets.secret_from_env(NAME)`.
SECRET_ARN_SUFFIX = "_ARN"
#: Days a deleted secret can still be restored (Secrets Manager allows 7..30).
SECRET_RECOVERY_WINDOW_DAYS = 7


@dataclass(frozen=True, kw_only=True)
class ServiceDefaults:
    """Settings every resource of a service (and of each child component) shares."""

    log_retention_days: int = 30
    """Days every log group keeps its events (a CloudWatch Logs retention value)."""
    alarm_actions: Sequence[pulumi.Input[str]] = ()
    """SNS topic ARNs notified by every alarm (and when it recovers)."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags on every resource that takes tags (alarms, queues, keys, tables, backups included)."""
    kms_key: KmsKeyRef | None = None
    """The customer-managed key for tables, queues, log groups and function environments;
    None = the component creates its own (`kms_key` child), unless `aws_managed_keys`."""
    aws_managed_keys: bool = False
    """Explicit opt-out: AWS-managed keys (tables: aws/dynamodb; queues: SQS-managed SSE; log
    groups and environments: the services' default encryption). The policy rule KMS001 fails it."""
    runtime: str = _lambda.RUNTIME
    """The Lambda runtime of every function."""
    architecture: str = _lambda.ARCHITECTURE
    """The Lambda architecture of every function (`arm64` or `x86_64`)."""

    def validate(self) -> None:
        """Raise ValueError for invalid or contradictory settings."""
        if self.log_retention_days not in _lambda.LOG_RETENTION_DAYS:
            raise ValueError(f"log_retention_days {self.log_retention_days} is not a CloudWatch Logs retention value")
        if self.aws_managed_keys and self.kms_key is not None:
            raise ValueError("give kms_key or aws_managed_keys=True, not both")
        if self.kms_key is not None:
            self.kms_key.validate()
        if self.architecture not in ("arm64", "x86_64"):
            raise ValueError(f"architecture must be arm64 or x86_64, not {self.architecture!r}")
        if not self.runtime.startswith("python3."):
            raise ValueError(f"runtime {self.runtime!r} is not a Python runtime (the functions are Python)")


@dataclass(frozen=True, kw_only=True)
class FunctionSpec:
    """Code and sizing of one function. Only `packages` (top-level folders or modules under
    `code_root`) are zipped, and of those only the files the handler imports
    (`trim_to_imports`); tests, caches and anything else stay out."""

    handler: str
    """`module.function`, e.g. `orders_api.commands.handler`."""
    code_root: str
    """The folder holding `packages`."""
    packages: Sequence[str]
    """Top-level packages or modules under `code_root` to ship."""
    memory_mb: int = 256
    timeout_s: int = 10
    environment: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Extra environment; the component's own variables (SERVICE_SOURCE, EVENTS_TABLE, ...) win."""
    secrets: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Secret values by name (`SLACK_SIGNING_SECRET`: `config.require_secret(...)`), never put
    in the environment: each is stored in its own Secrets Manager secret, encrypted with the
    service's KMS key; the function gets only the ARN, in `<NAME>_ARN`, may read exactly those
    secrets (`secretsmanager:GetSecretValue`), and reads each value once per container with
    `acme_eventsourcing.runtime.secrets.secret_from_env(NAME)`."""
    reserved_concurrency: int | None = None
    trim_to_imports: bool = True
    """Ship only the files of `packages` that the handler imports (statically); turn off
    for code that loads modules by computed name."""

    def validate(self, what: str, *, max_timeout_s: int = 900) -> None:
        if not _HANDLER.match(self.handler):
            raise ValueError(f"{what}: handler {self.handler!r} is not 'module.function'")
        if not self.packages:
            raise ValueError(f"{what}: packages must name at least one package")
        if self.handler.split(".")[0] not in self.packages:
            raise ValueError(f"{what}: the handler's package {self.handler.split('.')[0]!r} is not in packages {list(self.packages)}")
        if not 128 <= self.memory_mb <= 10240:
            raise ValueError(f"{what}: memory_mb must be within 128..10240")
        if not 1 <= self.timeout_s <= max_timeout_s:
            raise ValueError(f"{what}: timeout_s must be within 1..{max_timeout_s}")
        for secret in self.secrets:
            if not _SECRET_NAME.match(secret):
                raise ValueError(f"{what}: secret name {secret!r} must be an upper-case environment-style name (A-Z, 0-9, _)")
            if secret + SECRET_ARN_SUFFIX in self.environment or secret in self.environment:
                raise ValueError(f"{what}: secret {secret!r} is also in environment; a secret goes only in secrets")
        if self.reserved_concurrency is not None and self.reserved_concurrency < 1:
            raise ValueError(f"{what}: reserved_concurrency must be >= 1 (0 would disable the function)")


@dataclass(frozen=True, kw_only=True)
class DeliverySpec:
    """Retries of rule -> function delivery (EventBridge) and of the function's own failures
    (Lambda asynchronous invocation); what still fails lands in the DLQ."""

    maximum_retry_attempts: int = 10
    maximum_event_age_in_seconds: int = 86400
    function_retry_attempts: int = 2
    function_maximum_event_age_in_seconds: int = 21600

    def validate(self) -> None:
        if not 0 <= self.maximum_retry_attempts <= 185:
            raise ValueError("delivery.maximum_retry_attempts must be within 0..185")
        if not 60 <= self.maximum_event_age_in_seconds <= 86400:
            raise ValueError("delivery.maximum_event_age_in_seconds must be within 60..86400")
        if not 0 <= self.function_retry_attempts <= 2:
            raise ValueError("delivery.function_retry_attempts must be within 0..2")
        if not 60 <= self.function_maximum_event_age_in_seconds <= 21600:
            raise ValueError("delivery.function_maximum_event_age_in_seconds must be within 60..21600")


class ChildScope:
    """(Internal.) How a component declares its resources: its options (parent, and an alias to the
    component that declared them before, `former_parent`), tags, and the KMS key (the one
    `defaults.kms_key` names, else a key of its own unless `aws_managed_keys`)."""

    def __init__(
        self,
        component: pulumi.ComponentResource,
        name: str,
        defaults: ServiceDefaults,
        *,
        former_parent: pulumi.Resource | None,
        key_description: str,
        log_group_prefixes: Sequence[str],
        rule_arn_patterns: Sequence[pulumi.Input[str]] = (),
    ) -> None:
        self.component, self.name, self.defaults = component, name, defaults
        self.opts = pulumi.ResourceOptions(parent=component, aliases=[pulumi.Alias(parent=former_parent)] if former_parent else None)
        self.tags: dict[str, str] | None = dict(defaults.tags) or None
        self.kms_key: Any = None
        self.kms_key_arn: pulumi.Output[str] | None = None
        if defaults.aws_managed_keys:
            if former_parent is None:  # the service that declares this one has warned already
                pulumi.log.warn(f"{name}: aws_managed_keys=True - encrypted with AWS-managed keys, not one you control", resource=component)
        elif defaults.kms_key is None:
            self.kms_key = _kms.service_key(
                f"{name}-key",
                opts=self.opts,
                description=key_description,
                log_group_prefixes=log_group_prefixes,
                rule_arn_patterns=rule_arn_patterns,
                tags=defaults.tags,
            )
            self.kms_key_arn = self.kms_key.arn
        else:
            key, _reference = resolve(defaults.kms_key, name=name, parent=component)
            self.kms_key_arn = pulumi.Output.from_input(key.key_arn)  # type: ignore[arg-type]

    def child(self, **options: Any) -> pulumi.ResourceOptions:
        """The options of a direct child, merged with `options` (e.g. `depends_on`)."""
        return pulumi.ResourceOptions.merge(self.opts, pulumi.ResourceOptions(**options)) if options else self.opts

    def function(
        self,
        name: str,
        spec: FunctionSpec,
        statements: Sequence[Mapping[str, Any]],
        environment: Mapping[str, pulumi.Input[str]],
        *,
        writes: bool,
    ) -> _lambda.FunctionParts:
        """The function of `spec` (its code packaged), with `environment` over the spec's own,
        and its `secrets` in Secrets Manager (`secret`)."""
        secret_env: dict[str, pulumi.Input[str]] = {}
        secret_arns: list[pulumi.Input[str]] = []
        for secret_name, value in sorted(spec.secrets.items()):
            secret = self.secret(f"{name}-{secret_name.lower().replace('_', '-')}", value, description=f"{secret_name} of {name}")
            secret_env[secret_name + SECRET_ARN_SUFFIX] = secret.arn
            secret_arns.append(secret.arn)
        if secret_arns:
            statements = [*statements, _iam.statement("ReadOwnSecrets", ["secretsmanager:GetSecretValue"], secret_arns)]
        return self.library_function(
            name,
            handler=spec.handler,
            code=_lambda.package_code(spec.code_root, spec.packages, spec.handler.rsplit(".", 1)[0] if spec.trim_to_imports else None),
            memory_mb=spec.memory_mb,
            timeout_s=spec.timeout_s,
            environment={**spec.environment, **secret_env, **environment},
            statements=statements,
            writes=writes,
            reserved_concurrency=spec.reserved_concurrency,
        )

    def secret(self, name: str, value: pulumi.Input[str], *, description: str) -> Any:
        """A Secrets Manager secret `name` holding `value` (kept secret in the state), encrypted
        with the scope's KMS key (AWS's `aws/secretsmanager` key with `aws_managed_keys`)."""
        import pulumi_aws as aws  # the only user of Secrets Manager here

        secret = aws.secretsmanager.Secret(
            name,
            name_prefix=f"{name}-",
            description=description,
            kms_key_id=self.kms_key_arn,
            recovery_window_in_days=SECRET_RECOVERY_WINDOW_DAYS,
            tags=self.tags,
            opts=self.opts,
        )
        aws.secretsmanager.SecretVersion(f"{name}-value", secret_id=secret.id, secret_string=pulumi.Output.secret(value), opts=self.opts)
        return secret

    def library_function(
        self,
        name: str,
        *,
        handler: str,
        code: pulumi.Archive,
        memory_mb: int,
        timeout_s: int,
        environment: Mapping[str, pulumi.Input[str]],
        statements: Sequence[Mapping[str, Any]],
        writes: bool,
        reserved_concurrency: int | None = None,
    ) -> _lambda.FunctionParts:
        return _lambda.build_function(
            name,
            opts=self.opts,
            handler=handler,
            code=code,
            memory_mb=memory_mb,
            timeout_s=timeout_s,
            environment=environment,
            statements=statements,
            log_retention_days=self.defaults.log_retention_days,
            alarm_actions=self.defaults.alarm_actions,
            reserved_concurrency=reserved_concurrency,
            tags=self.defaults.tags,
            kms_key_arn=self.kms_key_arn,
            kms_writes=writes,
            runtime=self.defaults.runtime,
            architecture=self.defaults.architecture,
        )

    def alarm(self, name: str, **kwargs: Any) -> Any:
        return _lambda.metric_alarm(name, opts=self.opts, alarm_actions=self.defaults.alarm_actions, tags=self.defaults.tags, **kwargs)

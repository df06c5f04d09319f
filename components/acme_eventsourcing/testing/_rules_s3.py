"""Rules on S3 buckets: versioned, encrypted, private, TLS only, access logged, aged out, retained, owner-enforced.

A bucket is an `s3.Bucket` (or the older `s3.BucketV2`); its settings are the separate
resources whose `bucket` input is the bucket's name (`BucketVersioning`,
`BucketServerSideEncryptionConfiguration`, `BucketPublicAccessBlock`, `BucketPolicy`,
`BucketLogging`, `BucketLifecycleConfiguration`, `BucketOwnershipControls`, and each one's
`...V2` type), or the bucket's own deprecated inline inputs. A bucket *holds data* unless it
is the target of another bucket's server access logs (`StackView.holds_data`).

Each rule is a frozen dataclass: `id`, `title` and `rationale` are class constants, the
fields are its parameters (with the defaults `DEFAULT_RULES` uses), and `check(stack)`
returns one `Violation` per offending resource and reason (see `_policy_rules`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from ._policy_core import Violation
from ._policy_iam import Statement, action_matches
from ._policy_view import BUCKET, BUCKET_V2, StackView, get
from .harness import RecordedStack

#: The resource types the S3 rules examine (a stack without them has nothing to check).
BUCKET_TYPES: tuple[str, ...] = (BUCKET, BUCKET_V2)


def _customer_key(value: Any) -> bool:
    return isinstance(value, str) and bool(value) and "alias/aws/" not in value


class _BucketRule:
    resource_types: ClassVar[tuple[str, ...]] = BUCKET_TYPES

    def checked(self, stack: RecordedStack) -> int:
        """How many buckets the rule examined."""
        return len(StackView.of(stack).buckets)


@dataclass(frozen=True)
class BucketsVersioned(_BucketRule):
    id: ClassVar[str] = "S3001"
    title: ClassVar[str] = "Every S3 bucket has versioning enabled"
    rationale: ClassVar[str] = (
        "Without versions an overwrite or a delete (a bug, a compromised role, a lifecycle rule "
        "written wrong) destroys the only copy; with them it leaves a noncurrent version to restore."
    )

    def check(self, stack: RecordedStack) -> list[Violation]:
        view = StackView.of(stack)
        settings = view.bucket_settings("bucketVersioning")
        out = []
        for b in view.buckets:
            enabled = any(get(r.inputs, "versioningConfiguration", "status") == "Enabled" for r in settings.get(b.urn, []))
            inline = [b.inputs.get("versioning"), *(b.inputs.get("versionings") or [])]
            if not enabled and not any(get(v, "enabled") is True for v in inline):
                out.append(Violation.of(self.id, b, "no BucketVersioning with versioning_configuration.status 'Enabled'"))
        return out


@dataclass(frozen=True)
class BucketsEncrypted(_BucketRule):
    id: ClassVar[str] = "S3002"
    title: ClassVar[str] = "Every S3 bucket is encrypted by default; a bucket holding data with a customer-managed KMS key"
    rationale: ClassVar[str] = (
        "A bucket that holds data (events, exports) needs default encryption aws:kms (or aws:kms:dsse) "
        "with a customer-managed key (kms_master_key_id, not alias/aws/s3), so its owner controls, audits "
        "and can revoke access, as for tables and queues. A bucket that only receives server access logs "
        "may use SSE-S3 (AES256): S3 cannot deliver access logs to a bucket whose default encryption is SSE-KMS."
    )

    def check(self, stack: RecordedStack) -> list[Violation]:
        view = StackView.of(stack)
        out = []
        for b in view.buckets:
            settings = view.bucket_encryption(b)
            algorithms = sorted({str(s.get("sseAlgorithm")) for s in settings})
            if not settings:
                out.append(Violation.of(self.id, b, "no default encryption (BucketServerSideEncryptionConfiguration)"))
            elif view.holds_data(b):
                if not any(str(s.get("sseAlgorithm")).startswith("aws:kms") and _customer_key(s.get("kmsMasterKeyId")) for s in settings):
                    message = f"holds data but its default encryption is {algorithms} without a customer-managed kms_master_key_id"
                    out.append(Violation.of(self.id, b, message))
            elif not any(s.get("sseAlgorithm") in ("AES256", "aws:kms", "aws:kms:dsse") for s in settings):
                out.append(Violation.of(self.id, b, f"default encryption {algorithms} is neither AES256 nor aws:kms"))
        return out


@dataclass(frozen=True)
class BucketsBlockPublicAccess(_BucketRule):
    id: ClassVar[str] = "S3003"
    title: ClassVar[str] = "Every S3 bucket blocks public access entirely"
    rationale: ClassVar[str] = (
        "A BucketPublicAccessBlock with block_public_acls, block_public_policy, ignore_public_acls and "
        "restrict_public_buckets all true makes a public ACL or policy on the bucket ineffective, whatever "
        "a later change writes."
    )

    settings: ClassVar[tuple[str, ...]] = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")

    def check(self, stack: RecordedStack) -> list[Violation]:
        view = StackView.of(stack)
        blocks = view.bucket_settings("bucketPublicAccessBlock")
        out = []
        for b in view.buckets:
            on = {key for r in blocks.get(b.urn, []) for key in self.settings if r.inputs.get(key) is True}
            missing = [key for key in self.settings if key not in on]
            if not blocks.get(b.urn):
                out.append(Violation.of(self.id, b, "no BucketPublicAccessBlock"))
            elif missing:
                out.append(Violation.of(self.id, b, f"the BucketPublicAccessBlock leaves {missing} unset or false"))
        return out


def _denies_insecure_transport(s: Statement, bucket_arn: str) -> bool:
    values = s.condition_values("Bool", "aws:SecureTransport") or ()
    return (
        s.effect == "Deny"
        and s.everyone
        and any(action_matches(a, "s3:*") for a in s.actions)
        and s.covers_resource(bucket_arn)
        and s.covers_resource(f"{bucket_arn}/*")
        and any(str(v).lower() == "false" for v in values)
    )


@dataclass(frozen=True)
class BucketsRequireTls(_BucketRule):
    id: ClassVar[str] = "S3004"
    title: ClassVar[str] = "Every S3 bucket's policy denies requests without TLS"
    rationale: ClassVar[str] = (
        "S3 answers plain HTTP unless the bucket policy denies `s3:*` to `*`, on the bucket and its "
        "objects (`<arn>` and `<arn>/*`), when aws:SecureTransport is false."
    )

    def check(self, stack: RecordedStack) -> list[Violation]:
        view = StackView.of(stack)
        return [
            Violation.of(self.id, b, "no bucket policy denies s3:* on the bucket and its objects to every principal without TLS")
            for b in view.buckets
            if not any(_denies_insecure_transport(s, b.state.get("arn", "")) for d in view.bucket_policies(b) for s in d.statements)
        ]


@dataclass(frozen=True)
class BucketsAccessLogged(_BucketRule):
    id: ClassVar[str] = "S3005"
    title: ClassVar[str] = "Every S3 bucket holding data logs its access to another bucket"
    rationale: ClassVar[str] = (
        "Server access logs say who read or changed what, which CloudTrail's default management events "
        "do not. They go to another bucket (BucketLogging.target_bucket): a bucket logging into itself "
        "logs its own log writes forever. A bucket that is itself an access-log target is exempt from "
        "this rule (it would need a third bucket, and so on), not from the others."
    )

    def check(self, stack: RecordedStack) -> list[Violation]:
        view = StackView.of(stack)
        out = []
        for b in view.buckets:
            if not view.holds_data(b):
                continue
            targets = view.access_logging.get(b.urn, [])
            if not targets:
                out.append(Violation.of(self.id, b, "no BucketLogging: server access is not logged"))
            elif all(view.bucket_of(t) is b for t in targets):
                out.append(Violation.of(self.id, b, "logs its access into itself; target another bucket"))
        return out


@dataclass(frozen=True)
class BucketsHaveLifecycle(_BucketRule):
    id: ClassVar[str] = "S3006"
    title: ClassVar[str] = "Every S3 bucket has an enabled lifecycle rule"
    rationale: ClassVar[str] = (
        "A versioned bucket keeps every object and every noncurrent version forever at the price of hot "
        "storage: a BucketLifecycleConfiguration with at least one Enabled rule says when data moves to "
        "colder storage, when noncurrent versions and incomplete uploads go."
    )

    def check(self, stack: RecordedStack) -> list[Violation]:
        view = StackView.of(stack)
        configs = view.bucket_settings("bucketLifecycleConfiguration")
        out = []
        for b in view.buckets:
            rules = [rule for c in configs.get(b.urn, []) for rule in c.inputs.get("rules") or []]
            enabled = any(get(rule, "status") == "Enabled" for rule in rules)
            inline = any(get(rule, "enabled") is True for rule in b.inputs.get("lifecycleRules") or [])
            if not (enabled or inline):
                message = "no BucketLifecycleConfiguration" if not rules else "its lifecycle rules are all disabled"
                out.append(Violation.of(self.id, b, message))
        return out


@dataclass(frozen=True)
class DataBucketsRetained(_BucketRule):
    id: ClassVar[str] = "S3007"
    title: ClassVar[str] = "Every S3 bucket holding data is protected, retained and not force-destroyed"
    rationale: ClassVar[str] = (
        "The backup bucket is the copy that survives the loss of everything else, so `pulumi destroy` "
        "or a replacement must not take it: the options protect and retain_on_delete, and no "
        "force_destroy (which deletes every object with the bucket). Access-log buckets are exempt."
    )

    def check(self, stack: RecordedStack) -> list[Violation]:
        view = StackView.of(stack)
        out = []
        for b in view.buckets:
            if not view.holds_data(b):
                continue
            missing = [
                what
                for what, ok in (
                    ("option protect", b.options.get("protect") is True),
                    ("option retain_on_delete", b.options.get("retain_on_delete") is True),
                    ("force_destroy false", b.inputs.get("forceDestroy") is not True),
                )
                if not ok
            ]
            if missing:
                out.append(Violation.of(self.id, b, f"holds data but lacks {missing}"))
        return out


@dataclass(frozen=True)
class BucketOwnerEnforced(_BucketRule):
    id: ClassVar[str] = "S3008"
    title: ClassVar[str] = "Every S3 bucket enforces bucket-owner ownership (ACLs disabled)"
    rationale: ClassVar[str] = (
        "With BucketOwnershipControls object_ownership BucketOwnerEnforced, ACLs are off and the bucket's "
        "account owns every object, whoever wrote it, so the bucket policy alone decides access. (An "
        "access-log target then grants logging.s3.amazonaws.com s3:PutObject in its policy.)"
    )

    def check(self, stack: RecordedStack) -> list[Violation]:
        view = StackView.of(stack)
        controls = view.bucket_settings("bucketOwnershipControls")
        out = []
        for b in view.buckets:
            found = [get(r.inputs, "rule", "objectOwnership") for r in controls.get(b.urn, [])]
            if "BucketOwnerEnforced" not in found:
                out.append(Violation.of(self.id, b, f"object ownership is {found or 'not set'}, not BucketOwnerEnforced"))
        return out

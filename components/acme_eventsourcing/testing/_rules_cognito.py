"""Rules on Cognito: no client writes, and every pool freezes, the attribute the API trusts for identity.

Each rule is a frozen dataclass: `id`, `title` and `rationale` are class constants, the
fields are its parameters (with the defaults `DEFAULT_RULES` uses), and `check(stack)`
returns one `Violation` per offending resource and reason (see `_policy_rules`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ._policy_core import Violation
from ._policy_view import (
    FUNCTION,
    USER_POOL,
    USER_POOL_CLIENT,
    StackView,
    get,
)
from .harness import RecordedStack

#: The environment variable through which a function names the JWT claim it takes the
#: caller's identity from (`EventSourcedService` sets it on the API functions).
IDENTITY_CLAIM_VARIABLE = "IDENTITY_CLAIM"


#: Cognito's standard user attributes (a user may change them unless they are immutable and
#: no app client may write them); `custom:<name>` attributes come on top.
COGNITO_STANDARD_ATTRIBUTES: frozenset[str] = frozenset(
    {
        "address",
        "birthdate",
        "email",
        "family_name",
        "gender",
        "given_name",
        "locale",
        "middle_name",
        "name",
        "nickname",
        "phone_number",
        "picture",
        "preferred_username",
        "profile",
        "website",
        "zoneinfo",
    }
)


def _identity_trusting_functions(stack: RecordedStack, variable: str) -> dict[str, str]:
    """Function name -> the claim its environment's `variable` says it trusts for identity."""
    found = {}
    for fn in StackView.of(stack).of_type(FUNCTION):
        claim = (get(fn.inputs, "environment", "variables") or {}).get(variable)
        if isinstance(claim, str) and claim:
            found[fn.name] = claim
    return found


def _trusted_identity_claims(stack: RecordedStack, declared: frozenset[str], variable: str) -> dict[str, list[str]]:
    """Claim -> who trusts it for identity: the rule's `identity_claims`, and every function
    whose environment names one in `variable`."""
    trusted: dict[str, list[str]] = {c: ["the rule's identity_claims"] for c in declared}
    for name, claim in _identity_trusting_functions(stack, variable).items():
        trusted.setdefault(claim, []).append(f"function {name!r}")
    return trusted


def _user_attribute(claim: str) -> str | None:
    """The user pool attribute behind a claim (`custom:x` -> `x`, `email` -> `email`), None
    for claims users can never change (`sub`, `cognito:username`, ...)."""
    if claim.startswith("custom:"):
        return claim.removeprefix("custom:")
    return claim if claim in COGNITO_STANDARD_ATTRIBUTES else None


@dataclass(frozen=True)
class ClientsCannotWriteIdentity:
    identity_claims: frozenset[str] = frozenset()
    identity_variable: str = IDENTITY_CLAIM_VARIABLE

    id: ClassVar[str] = "COG001"
    title: ClassVar[str] = "No user pool client can write an attribute the API trusts for identity"
    rationale: ClassVar[str] = (
        "A signed-in user may change any attribute their app client may write (UpdateUserAttributes "
        "with their own token). Unset or empty write_attributes means every mutable attribute, so it "
        "must be explicit, and must not list a claim any function takes the caller's identity from "
        "(its IDENTITY_CLAIM variable, or the rule's identity_claims): else a user becomes whoever they write."
    )

    def checked(self, stack: RecordedStack) -> int:
        """How many user pool clients and identity-trusting functions the rule examined."""
        return len(StackView.of(stack).of_type(USER_POOL_CLIENT)) + len(_identity_trusting_functions(stack, self.identity_variable))

    def check(self, stack: RecordedStack) -> list[Violation]:
        trusted = _trusted_identity_claims(stack, self.identity_claims, self.identity_variable)
        out = []
        for client in StackView.of(stack).of_type(USER_POOL_CLIENT):
            writable = client.inputs.get("writeAttributes")
            if not writable:
                message = "write_attributes is unset or empty, so the client may write every mutable attribute; list them explicitly"
                out.append(Violation.of(self.id, client, message))
                continue
            for claim, users in sorted(trusted.items()):
                attribute = _user_attribute(claim)
                if attribute is not None and claim in writable:
                    message = f"write_attributes lists {claim!r}, which {', '.join(users)} trusts for the caller's identity"
                    out.append(Violation.of(self.id, client, message))
        return out


@dataclass(frozen=True)
class IdentityAttributesImmutable:
    identity_claims: frozenset[str] = frozenset()
    identity_variable: str = IDENTITY_CLAIM_VARIABLE

    id: ClassVar[str] = "COG002"
    title: ClassVar[str] = "An attribute the API trusts for identity is immutable in every user pool"
    rationale: ClassVar[str] = (
        "Immutable attributes are set once, when an administrator creates the user, and never again: "
        "whatever a client, an administrator's slip or a later client may write, the identity stays. "
        "A pool declaring a trusted claim's attribute must declare it mutable=false. (An attribute "
        "mapped from an external IdP must be mutable; see docs/components.md for that trade-off.)"
    )

    def checked(self, stack: RecordedStack) -> int:
        """How many user pools and identity-trusting functions the rule examined."""
        return len(StackView.of(stack).of_type(USER_POOL)) + len(_identity_trusting_functions(stack, self.identity_variable))

    def check(self, stack: RecordedStack) -> list[Violation]:
        trusted = _trusted_identity_claims(stack, self.identity_claims, self.identity_variable)
        out = []
        for pool in StackView.of(stack).of_type(USER_POOL):
            schemas = {str(a.get("name")): a for a in pool.inputs.get("schemas") or [] if isinstance(a, dict)}
            for claim, users in sorted(trusted.items()):
                attribute = _user_attribute(claim)
                if attribute is None:
                    continue
                declared = schemas.get(attribute)
                custom = claim.startswith("custom:")
                if declared is None and custom:
                    continue  # this pool does not have the attribute, so it never issues the claim
                if declared is None or declared.get("mutable") is not False:
                    how = "is not declared in schemas (standard attributes are mutable)" if declared is None else "is mutable"
                    message = f"attribute {attribute!r} {how}, yet {', '.join(users)} trusts {claim!r} for the caller's identity"
                    out.append(Violation.of(self.id, pool, message))
        return out

"""Rules on Cognito: no user can change the attribute the API trusts for identity, and a
federated pool (single sign-on) signs users in only through its IdP, by the code flow.

Each rule is a frozen dataclass: `id`, `title` and `rationale` are class constants, the
fields are its parameters (with the defaults `DEFAULT_RULES` uses), and `check(stack)`
returns one `Violation` per offending resource and reason (see `_policy_rules`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..sso import USER_ADMIN_SCOPE, redirect_url_problem
from ._policy_core import Violation
from ._policy_view import (
    FUNCTION,
    USER_POOL,
    USER_POOL_CLIENT,
    StackView,
    get,
)
from .harness import RecordedResource, RecordedStack

IDENTITY_PROVIDER = "aws:cognito/identityProvider:IdentityProvider"

#: The only explicit auth flow a federated pool's client may allow: every other one (SRP,
#: password, custom, choice-based) issues access tokens with `aws.cognito.signin.user.admin`.
FEDERATED_AUTH_FLOWS: frozenset[str] = frozenset({"ALLOW_REFRESH_TOKEN_AUTH"})

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


def _pool_id(resource: RecordedResource) -> str | None:
    return resource.inputs.get("userPoolId")


def _mapped(stack: RecordedStack) -> dict[str | None, dict[str, list[str]]]:
    """Pool id -> pool attribute -> the IdPs (names) whose attribute mapping writes it."""
    out: dict[str | None, dict[str, list[str]]] = {}
    for idp in StackView.of(stack).of_type(IDENTITY_PROVIDER):
        for attribute in idp.inputs.get("attributeMapping") or {}:
            out.setdefault(_pool_id(idp), {}).setdefault(attribute, []).append(str(idp.inputs.get("providerName") or idp.name))
    return out


def _federated_pools(stack: RecordedStack) -> dict[str | None, list[RecordedResource]]:
    """Pool id -> its identity providers."""
    out: dict[str | None, list[RecordedResource]] = {}
    for idp in StackView.of(stack).of_type(IDENTITY_PROVIDER):
        out.setdefault(_pool_id(idp), []).append(idp)
    return out


def _password_sign_in(client: RecordedResource) -> str | None:
    """Why users of `client` could sign in other than through an external IdP, or hold a
    token with `aws.cognito.signin.user.admin` (None if they cannot)."""
    flows = client.inputs.get("explicitAuthFlows")
    if not flows:
        return "explicit_auth_flows is unset (Cognito then allows SRP and custom auth, whose tokens may write attributes)"
    extra = sorted(set(flows) - FEDERATED_AUTH_FLOWS)
    if extra:
        return f"explicit_auth_flows allows {extra}, whose tokens may write attributes; allow only ALLOW_REFRESH_TOKEN_AUTH"
    providers = client.inputs.get("supportedIdentityProviders") or []
    if not providers:
        return "supported_identity_providers is empty"
    if "COGNITO" in providers:
        return "supported_identity_providers includes COGNITO (users with passwords)"
    if USER_ADMIN_SCOPE in (client.inputs.get("allowedOauthScopes") or []):
        return f"allowed_oauth_scopes includes {USER_ADMIN_SCOPE!r}, which lets a user rewrite their own attributes"
    return None


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
        "(its IDENTITY_CLAIM variable, or the rule's identity_claims): else a user becomes whoever they write. "
        "One exception: Cognito copies IdP-mapped attributes at each federated sign-in only if the client may "
        "write them, so a trusted attribute an IdP of the pool maps may be listed by a client none of whose "
        "tokens can write attributes (only ALLOW_REFRESH_TOKEN_AUTH, only external IdPs, no "
        "aws.cognito.signin.user.admin scope): then the IdP is its only writer."
    )

    def checked(self, stack: RecordedStack) -> int:
        """How many user pool clients and identity-trusting functions the rule examined."""
        return len(StackView.of(stack).of_type(USER_POOL_CLIENT)) + len(_identity_trusting_functions(stack, self.identity_variable))

    def check(self, stack: RecordedStack) -> list[Violation]:
        trusted = _trusted_identity_claims(stack, self.identity_claims, self.identity_variable)
        mapped = _mapped(stack)
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
                    if claim in mapped.get(_pool_id(client), {}):
                        loophole = _password_sign_in(client)
                        if loophole is None:
                            continue  # the IdP mapping is the only writer
                        message += f"; an IdP maps it, which is allowed only if no token of the client can write attributes, but {loophole}"
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
        "A pool declaring a trusted claim's attribute must declare it mutable=false. The one exception is "
        "an attribute an identity provider of the pool maps: Cognito rewrites it at each federated sign-in, "
        "so it must be mutable, and COG001 then makes sure no client's token can write it (docs/sso.md)."
    )

    def checked(self, stack: RecordedStack) -> int:
        """How many user pools and identity-trusting functions the rule examined."""
        return len(StackView.of(stack).of_type(USER_POOL)) + len(_identity_trusting_functions(stack, self.identity_variable))

    def check(self, stack: RecordedStack) -> list[Violation]:
        trusted = _trusted_identity_claims(stack, self.identity_claims, self.identity_variable)
        mapped = _mapped(stack)
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
                if claim in mapped.get(pool.id, {}):
                    continue  # written only by the IdP mapping (COG001 checks the clients)
                if declared is None or declared.get("mutable") is not False:
                    how = "is not declared in schemas (standard attributes are mutable)" if declared is None else "is mutable"
                    message = f"attribute {attribute!r} {how}, yet {', '.join(users)} trusts {claim!r} for the caller's identity"
                    out.append(Violation.of(self.id, pool, message))
        return out


@dataclass(frozen=True)
class OAuthCodeFlowOnly:
    id: ClassVar[str] = "COG003"
    title: ClassVar[str] = "User pool clients use the OAuth authorization code flow, never the implicit flow"
    rationale: ClassVar[str] = (
        "The implicit flow returns tokens in the redirect URL's fragment, where browser history, "
        "referrers and extensions can read them, and cannot use PKCE. A client of a pool with an "
        "external IdP signs users in only through the hosted UI, so it must allow the code flow, alone."
    )

    def checked(self, stack: RecordedStack) -> int:
        """How many user pool clients the rule examined."""
        return len(StackView.of(stack).of_type(USER_POOL_CLIENT))

    def check(self, stack: RecordedStack) -> list[Violation]:
        federated = _federated_pools(stack)
        out = []
        for client in StackView.of(stack).of_type(USER_POOL_CLIENT):
            flows = list(client.inputs.get("allowedOauthFlows") or [])
            enabled = client.inputs.get("allowedOauthFlowsUserPoolClient")
            if "implicit" in flows:
                out.append(Violation.of(self.id, client, "allowed_oauth_flows includes 'implicit'; use 'code' with PKCE"))
            elif _pool_id(client) in federated and (flows != ["code"] or enabled is not True):
                message = f"the pool federates an IdP, but the client allows OAuth flows {flows} (allowed_oauth_flows_user_pool_client "
                message += f"{enabled!r}); allow exactly ['code'], enabled"
                out.append(Violation.of(self.id, client, message))
        return out


@dataclass(frozen=True)
class RedirectUrlsSecure:
    id: ClassVar[str] = "COG004"
    title: ClassVar[str] = "Callback and sign-out URLs are https (http only to localhost)"
    rationale: ClassVar[str] = (
        "The authorization code travels to the callback URL: over plain http anyone on the path can "
        "take it and, without PKCE, redeem it. Only the loopback host, which never leaves the machine, "
        "may use http (development). A URL with a fragment or credentials is a mistake."
    )

    def checked(self, stack: RecordedStack) -> int:
        """How many user pool clients the rule examined."""
        return len(StackView.of(stack).of_type(USER_POOL_CLIENT))

    def check(self, stack: RecordedStack) -> list[Violation]:
        out = []
        for client in StackView.of(stack).of_type(USER_POOL_CLIENT):
            for key, what in (
                ("callbackUrls", "callback_urls"),
                ("logoutUrls", "logout_urls"),
                ("defaultRedirectUri", "default_redirect_uri"),
            ):
                value = client.inputs.get(key)
                for url in [value] if isinstance(value, str) else list(value or []):
                    problem = redirect_url_problem(url)
                    if problem:
                        out.append(Violation.of(self.id, client, f"{what}: {url!r} {problem}"))
        return out


@dataclass(frozen=True)
class FederatedPoolsHaveNoPasswords:
    id: ClassVar[str] = "COG005"
    title: ClassVar[str] = "In a pool with an external IdP, every client signs users in only through an IdP"
    rationale: ClassVar[str] = (
        "Single sign-on means the IdP decides who may enter (and offboarding there locks the user out). "
        "A client that still supports COGNITO, or allows SRP, password or custom auth, keeps a password "
        "path beside it, and its tokens carry aws.cognito.signin.user.admin, with which a user rewrites "
        "their own attributes: the IdP-mapped identity included."
    )

    def checked(self, stack: RecordedStack) -> int:
        """How many clients of federated pools the rule examined."""
        federated = _federated_pools(stack)
        return sum(1 for c in StackView.of(stack).of_type(USER_POOL_CLIENT) if _pool_id(c) in federated)

    def check(self, stack: RecordedStack) -> list[Violation]:
        federated = _federated_pools(stack)
        out = []
        for client in StackView.of(stack).of_type(USER_POOL_CLIENT):
            if _pool_id(client) not in federated:
                continue
            problem = _password_sign_in(client)
            if problem:
                out.append(Violation.of(self.id, client, problem))
        return out


@dataclass(frozen=True)
class IdentityMappedFromIdp:
    identity_claims: frozenset[str] = frozenset()
    identity_variable: str = IDENTITY_CLAIM_VARIABLE

    id: ClassVar[str] = "COG006"
    title: ClassVar[str] = "Every IdP of a pool maps the mutable custom attribute the API trusts for identity"
    rationale: ClassVar[str] = (
        "A federated user's attributes come from the IdP's mapping: an IdP that does not map the "
        "trusted identity attribute signs in users the API cannot identify (every call 401) or whose "
        "identity some other path set. Map the IdP's stable subject onto it. (An immutable trusted "
        "attribute cannot be mapped at all: Cognito could not update it at the next sign-in.)"
    )

    def checked(self, stack: RecordedStack) -> int:
        """How many identity providers the rule examined."""
        return len(StackView.of(stack).of_type(IDENTITY_PROVIDER))

    def check(self, stack: RecordedStack) -> list[Violation]:
        trusted = _trusted_identity_claims(stack, self.identity_claims, self.identity_variable)
        view = StackView.of(stack)
        mutable = {
            pool.id: {
                f"custom:{a.get('name')}" for a in pool.inputs.get("schemas") or [] if isinstance(a, dict) and a.get("mutable") is not False
            }
            for pool in view.of_type(USER_POOL)
        }
        out = []
        for idp in view.of_type(IDENTITY_PROVIDER):
            mapping = idp.inputs.get("attributeMapping") or {}
            for claim, users in sorted(trusted.items()):
                if claim in mutable.get(_pool_id(idp), set()) and not mapping.get(claim):
                    message = f"attribute_mapping does not map {claim!r}, which {', '.join(users)} trusts for the caller's identity"
                    out.append(Violation.of(self.id, idp, message))
        return out


@dataclass(frozen=True)
class IdpSecretsEncrypted:
    id: ClassVar[str] = "COG007"
    title: ClassVar[str] = "An identity provider's client secret is a secret in state"
    rationale: ClassVar[str] = (
        "provider_details.client_secret lets whoever holds it act as the user pool at the IdP. A plain "
        "input is stored in plain text in the stack's state and shown in previews; pass it as a Pulumi "
        "secret (`pulumi config set --secret`, `config.require_secret`)."
    )

    def checked(self, stack: RecordedStack) -> int:
        """How many identity providers the rule examined."""
        return len(StackView.of(stack).of_type(IDENTITY_PROVIDER))

    def check(self, stack: RecordedStack) -> list[Violation]:
        out = []
        for idp in StackView.of(stack).of_type(IDENTITY_PROVIDER):
            details = idp.inputs.get("providerDetails") or {}
            if details.get("client_secret") and not idp.is_secret("providerDetails", "client_secret"):
                out.append(Violation.of(self.id, idp, "provider_details.client_secret is not a secret (it would be stored in plain text)"))
        return out

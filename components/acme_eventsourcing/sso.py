"""Single sign-on: the Cognito pool an `HttpApi` creates federates one external OIDC or SAML
identity provider (`SsoSpec`), with a hosted sign-in domain and an app client for the
authorization code flow with PKCE. Nobody has a password: the only way into the pool is the IdP.

The identity the API trusts. Cognito rewrites every attribute mapped from an IdP at each
federated sign-in, and so requires that attribute to be mutable and in the app client's
`write_attributes` (else sign-in fails); and an attribute's mutability can never change
after it is declared. So the pool's immutable `custom:employee_id` (set by administrators,
for password users) cannot carry a federated identity. Instead every pool the API creates
also declares `custom:idp_employee_id` (`SSO_IDENTITY_CLAIM`, mutable), and with SSO:

- the IdP's stable subject (`SsoSpec.identity_source`: OIDC `sub` by default; Entra ID's
  object id; a SAML attribute) is mapped onto it, and the API trusts that claim
  (`IDENTITY_CLAIM=custom:idp_employee_id`);
- the app client lists it in `write_attributes` (Cognito's requirement), but no user can
  ever hold a token that writes attributes: `UpdateUserAttributes` needs an access token
  with the scope `aws.cognito.signin.user.admin`, which the client never grants (its OAuth
  scopes are `openid email profile`, and it allows no password or custom auth flow, whose
  tokens always carry that scope). The only writer is Cognito, copying the IdP's value at
  each sign-in; the IdP's administrators own it. The policy rules COG001..COG006 check all
  of this in the recorded stack.
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import pulumi

#: The pool attribute a federated user's identity is mapped onto (declared mutable in every
#: pool the API creates, so that SSO can be turned on later: a pool's schema is append-only).
SSO_IDENTITY_ATTRIBUTE = "idp_employee_id"
SSO_IDENTITY_CLAIM = f"custom:{SSO_IDENTITY_ATTRIBUTE}"
#: The OAuth scopes the SSO app client allows. Never `aws.cognito.signin.user.admin`: a token
#: with it lets its user rewrite their own attributes, the identity included.
SSO_OAUTH_SCOPES = ("openid", "email", "profile")
#: The scope that authorizes a user's self-service calls (UpdateUserAttributes, ...).
USER_ADMIN_SCOPE = "aws.cognito.signin.user.admin"
#: Attributes a mapping may write: Cognito's standard attributes and verification flags.
MAPPABLE_ATTRIBUTES = frozenset(
    {
        "address",
        "birthdate",
        "email",
        "email_verified",
        "family_name",
        "gender",
        "given_name",
        "locale",
        "middle_name",
        "name",
        "nickname",
        "phone_number",
        "phone_number_verified",
        "picture",
        "preferred_username",
        "profile",
        "website",
        "zoneinfo",
    }
)
#: What the SAML default Entra ID sends as the user's immutable object id.
ENTRA_OBJECT_ID_CLAIM = "http://schemas.microsoft.com/identity/claims/objectidentifier"

_PROVIDER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{1,30}[A-Za-z0-9]$")
_RESERVED_PROVIDERS = frozenset({"cognito", "google", "facebook", "loginwithamazon", "signinwithapple"})
_DOMAIN_PREFIX = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_HOSTNAME = re.compile(r"^(?=.{4,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_LOOPBACK = re.compile(r"^http://(localhost|127\.0\.0\.1|\[::1\])(:\d{1,5})?(/|$)")
_CERTIFICATE = re.compile(r"^arn:aws[a-z-]*:acm:us-east-1:\d{12}:certificate/[A-Za-z0-9-]+$")


class SsoKind(StrEnum):
    """The protocol the identity provider speaks."""

    OIDC = "OIDC"
    SAML = "SAML"


def redirect_url_problem(url: str) -> str | None:
    """Why `url` may not be a callback or sign-out URL (None if it may): https, or plain
    http to the loopback host for development; no fragment, no credentials."""
    if not isinstance(url, str) or not url:
        return "is empty"
    if "#" in url:
        return "has a fragment"
    if url.startswith("https://"):
        host = url.removeprefix("https://").split("/", 1)[0]
        if not host or "@" in host:
            return "has no host, or has credentials"
        return None
    if _LOOPBACK.match(url):
        return None
    return "is not https (plain http only to localhost/127.0.0.1, for development)"


@dataclass(frozen=True, kw_only=True)
class SsoSpec:
    """Federate the API's Cognito pool with one external identity provider.

    Creates an `aws.cognito.IdentityProvider` (`provider_name`), a `UserPoolDomain` (the
    hosted sign-in UI: `domain_prefix` -> `https://<prefix>.auth.<region>.amazoncognito.com`,
    or `custom_domain` with an ACM `certificate_arn` in us-east-1), and configures the app
    client for the authorization code flow with PKCE only (no implicit flow, no password
    flows, `COGNITO` not a supported provider, so no user has a password). Users appear in
    the pool at their first sign-in; self sign-up stays off.

    The IdP registers the redirect URI `https://<domain>/oauth2/idpresponse` (OIDC) or the
    ACS URL `https://<domain>/saml2/idpresponse` with audience `urn:amazon:cognito:sp:<pool id>`
    (SAML); `HttpApi.sso_redirect_uri` gives it. The API identifies callers by
    `custom:idp_employee_id`, which `identity_source` fills (see the module docstring for why
    it is not the immutable `custom:employee_id`)."""

    provider_name: str
    """The IdP's name in the pool (3-32 letters, digits, `.`, `-`; not a social provider's name)."""
    kind: SsoKind = SsoKind.OIDC
    """OIDC or SAML."""
    oidc_issuer: str | None = None
    """OIDC: the issuer URL (https), e.g. `https://accounts.google.com`."""
    client_id: pulumi.Input[str] | None = None
    """OIDC: the client id the IdP issued for this pool."""
    client_secret: pulumi.Input[str] | None = None
    """OIDC: its client secret. It is always stored as a secret in state (`pulumi config set
    --secret sso_client_secret ...`, read with `config.require_secret`)."""
    authorize_scopes: Sequence[str] = ("openid", "email", "profile")
    """OIDC: the scopes Cognito asks the IdP for (`openid` required)."""
    saml_metadata_url: str | None = None
    """SAML: the IdP's federation metadata URL (https)."""
    saml_metadata_file: str | None = None
    """SAML: a file holding the IdP's metadata XML (read when the program runs)."""
    identity_source: str | None = None
    """The IdP claim (OIDC) or attribute (SAML) that identifies a person and never changes:
    mapped onto `custom:idp_employee_id`, the claim the API trusts. Default for OIDC `sub`;
    SAML needs one (Entra ID: `ENTRA_OBJECT_ID_CLAIM`)."""
    attribute_mapping: Mapping[str, str] = field(default_factory=dict)
    """More pool attributes from IdP claims, e.g. `{"email": "email", "name": "name"}`
    (standard attributes only; the identity is `identity_source`)."""
    domain_prefix: str | None = None
    """The hosted UI's Cognito domain prefix (lowercase letters, digits, `-`)."""
    custom_domain: str | None = None
    """Or a custom domain for the hosted UI (needs `certificate_arn`)."""
    certificate_arn: str | None = None
    """The ACM certificate (in us-east-1) of `custom_domain`."""
    callback_urls: Sequence[str] = ()
    """Where the hosted UI may send the authorization code: https, or http://localhost for development."""
    logout_urls: Sequence[str] = ()
    """Where the hosted UI may send users after sign-out (same rules)."""
    generate_secret: bool = False
    """A confidential app client (a server-side web app); False for a browser SPA using PKCE."""
    token_validity_minutes: int = 60
    """Lifetime of ID and access tokens (5..1440 minutes)."""
    refresh_token_validity_days: int = 30
    """Lifetime of refresh tokens (1..3650 days)."""

    @property
    def identity_claim_source(self) -> str:
        """The IdP claim mapped onto the identity attribute."""
        return self.identity_source or "sub"

    @property
    def pool_attribute_mapping(self) -> dict[str, str]:
        """The IdentityProvider's `attribute_mapping`: pool attribute -> IdP claim."""
        return {**self.attribute_mapping, SSO_IDENTITY_CLAIM: self.identity_claim_source}

    @property
    def domain(self) -> str:
        """The hosted UI's domain name (without scheme); the Cognito domain needs the region:
        see `HttpApi.sso_domain`."""
        return self.custom_domain or str(self.domain_prefix)

    def validate(self) -> None:  # noqa: C901 - one check per setting, each with its own message
        """Raise ValueError naming the first missing or invalid setting."""
        name = self.provider_name
        if not isinstance(name, str) or not _PROVIDER_NAME.match(name) or name.lower() in _RESERVED_PROVIDERS:
            raise ValueError(f"sso.provider_name {name!r} must be 3-32 letters, digits, '.' or '-', and not a built-in provider's name")
        if self.kind not in ("OIDC", "SAML"):
            raise ValueError(f"sso.kind must be 'OIDC' or 'SAML', not {self.kind!r}")
        if self.kind == "OIDC":
            if not self.oidc_issuer or not str(self.oidc_issuer).startswith("https://"):
                raise ValueError(f"sso.oidc_issuer must be the IdP's https issuer URL for kind OIDC (got {self.oidc_issuer!r})")
            if self.client_id is None or self.client_id == "":
                raise ValueError("sso.client_id is required for kind OIDC (the client id the IdP issued)")
            if self.client_secret is None or self.client_secret == "":
                raise ValueError("sso.client_secret is required for kind OIDC (set it with `pulumi config set --secret`)")
            if "openid" not in self.authorize_scopes:
                raise ValueError(f"sso.authorize_scopes must include 'openid' (got {list(self.authorize_scopes)})")
            if self.saml_metadata_url or self.saml_metadata_file:
                raise ValueError("sso.saml_metadata_url/saml_metadata_file are for kind SAML, not OIDC")
        else:
            if bool(self.saml_metadata_url) == bool(self.saml_metadata_file):
                raise ValueError("sso kind SAML needs exactly one of saml_metadata_url or saml_metadata_file")
            if self.saml_metadata_url and not self.saml_metadata_url.startswith("https://"):
                raise ValueError(f"sso.saml_metadata_url must be https (got {self.saml_metadata_url!r})")
            if self.saml_metadata_file:
                path = Path(self.saml_metadata_file)
                if not path.is_file() or "EntityDescriptor" not in path.read_text(errors="replace"):
                    raise ValueError(f"sso.saml_metadata_file {str(path)!r} is not a file holding SAML metadata (an EntityDescriptor)")
            if not self.identity_source:
                raise ValueError(
                    "sso.identity_source is required for kind SAML: the SAML attribute that identifies a person and never "
                    f"changes (Entra ID: {ENTRA_OBJECT_ID_CLAIM})"
                )
            if self.oidc_issuer or self.client_id is not None or self.client_secret is not None:
                raise ValueError("sso.oidc_issuer/client_id/client_secret are for kind OIDC, not SAML")
        for attribute, claim in self.attribute_mapping.items():
            if attribute == SSO_IDENTITY_CLAIM:
                raise ValueError(f"sso.attribute_mapping must not map {SSO_IDENTITY_CLAIM!r}: set identity_source instead")
            if attribute not in MAPPABLE_ATTRIBUTES:
                raise ValueError(
                    f"sso.attribute_mapping maps {attribute!r}, which is not a standard attribute of the pool "
                    "(custom:employee_id is immutable and cannot be mapped; the identity comes from identity_source)"
                )
            if not isinstance(claim, str) or not claim:
                raise ValueError(f"sso.attribute_mapping[{attribute!r}] must name an IdP claim")
        if bool(self.domain_prefix) == bool(self.custom_domain):
            raise ValueError("sso needs exactly one of domain_prefix (a Cognito domain) or custom_domain (with certificate_arn)")
        if self.domain_prefix:
            prefix = self.domain_prefix
            if not _DOMAIN_PREFIX.match(prefix) or any(w in prefix for w in ("aws", "amazon", "cognito")):
                raise ValueError(
                    f"sso.domain_prefix {prefix!r} must be lowercase letters, digits and '-' (not at either end), "
                    "without 'aws', 'amazon' or 'cognito'"
                )
            if self.certificate_arn:
                raise ValueError("sso.certificate_arn is only for custom_domain")
        else:
            if not _HOSTNAME.match(str(self.custom_domain)):
                raise ValueError(f"sso.custom_domain {self.custom_domain!r} is not a host name")
            if not self.certificate_arn or not _CERTIFICATE.match(self.certificate_arn):
                raise ValueError(f"sso.custom_domain needs certificate_arn: an ACM certificate in us-east-1 (got {self.certificate_arn!r})")
        if not self.callback_urls:
            raise ValueError("sso.callback_urls must name at least one URL the hosted UI may redirect to")
        for what, urls in (("callback_urls", self.callback_urls), ("logout_urls", self.logout_urls)):
            for url in urls:
                problem = redirect_url_problem(url)
                if problem:
                    raise ValueError(f"sso.{what}: {url!r} {problem}")
        if not 5 <= self.token_validity_minutes <= 1440:
            raise ValueError(f"sso.token_validity_minutes must be within 5..1440 (got {self.token_validity_minutes})")
        if not 1 <= self.refresh_token_validity_days <= 3650:
            raise ValueError(f"sso.refresh_token_validity_days must be within 1..3650 (got {self.refresh_token_validity_days})")

    def provider_details(self) -> Mapping[str, pulumi.Input[str]]:
        """The IdentityProvider's `provider_details`; the client secret wrapped as a secret
        whatever the caller passed, so state never holds it in plain text."""
        if self.kind == "OIDC":
            return {
                "client_id": self.client_id,  # type: ignore[dict-item]
                "client_secret": pulumi.Output.secret(self.client_secret),
                "oidc_issuer": str(self.oidc_issuer),
                "authorize_scopes": " ".join(self.authorize_scopes),
                "attributes_request_method": "GET",
            }
        if self.saml_metadata_url:
            return {"MetadataURL": self.saml_metadata_url}
        return {"MetadataFile": Path(str(self.saml_metadata_file)).read_text()}


#: Stack config keys `sso_from_config` reads (in the program's namespace, e.g. `leave:sso_kind`).
CONFIG_KEYS = (
    "sso_provider",
    "sso_kind",
    "sso_oidc_issuer",
    "sso_client_id",
    "sso_client_secret",
    "sso_authorize_scopes",
    "sso_saml_metadata_url",
    "sso_identity_source",
    "sso_attribute_mapping",
    "sso_domain_prefix",
    "sso_custom_domain",
    "sso_certificate_arn",
    "sso_callback_urls",
    "sso_logout_urls",
)


def sso_from_config(config: pulumi.Config) -> SsoSpec | None:
    """The `SsoSpec` the stack config describes (`sso_provider` and the other `CONFIG_KEYS`),
    None when `sso_provider` is unset. `sso_attribute_mapping` is a list of
    `"<pool attribute>=<IdP claim>"`; `sso_client_secret` must be set with `--secret`.
    Incomplete or invalid config is a ValueError naming the config key."""
    ns = config.name
    provider = config.get("sso_provider")
    if not provider:
        stray = [k for k in CONFIG_KEYS if _is_set(config, k)]
        if stray:
            raise ValueError(f"{', '.join(f'{ns}:{k}' for k in stray)} set, but {ns}:sso_provider is not: set it to turn SSO on")
        return None
    kind = (config.get("sso_kind") or "OIDC").upper()
    if kind not in ("OIDC", "SAML"):
        raise ValueError(f"{ns}:sso_kind must be OIDC or SAML, not {config.get('sso_kind')!r}")
    required = {"sso_callback_urls": "the app's sign-in callback URLs"}
    if kind == "OIDC":
        required |= {
            "sso_oidc_issuer": "the IdP's issuer URL",
            "sso_client_id": "the client id the IdP issued",
            "sso_client_secret": "its secret, set with pulumi config set --secret",
        }
    else:
        required |= {
            "sso_saml_metadata_url": "the IdP's federation metadata URL",
            "sso_identity_source": "the SAML attribute that identifies a person",
        }
    other_kind = (
        ("sso_saml_metadata_url",) if kind == "OIDC" else ("sso_oidc_issuer", "sso_client_id", "sso_client_secret", "sso_authorize_scopes")
    )
    stray = [f"{ns}:{k}" for k in other_kind if _is_set(config, k)]
    if stray:
        raise ValueError(f"{', '.join(stray)} set, but {ns}:sso_kind is {kind}: remove it, or set sso_kind")
    if not config.get("sso_domain_prefix") and not config.get("sso_custom_domain"):
        required["sso_domain_prefix"] = "the hosted UI's domain prefix (or sso_custom_domain with sso_certificate_arn)"
    missing = [f"{ns}:{k} ({why})" for k, why in required.items() if not _is_set(config, k)]
    if missing:
        raise ValueError(f"SSO ({ns}:sso_provider={provider!r}, kind {kind}) is incomplete; set {'; '.join(missing)}")
    mapping: dict[str, str] = {}
    for entry in _strings(config, "sso_attribute_mapping"):
        attribute, sep, claim = entry.partition("=")
        if not sep or not attribute.strip() or not claim.strip():
            raise ValueError(f"{ns}:sso_attribute_mapping entry {entry!r} is not '<pool attribute>=<IdP claim>'")
        mapping[attribute.strip()] = claim.strip()
    settings: dict[str, Any] = {
        "provider_name": provider,
        "kind": SsoKind(kind),
        "attribute_mapping": mapping,
        "identity_source": config.get("sso_identity_source"),
        "domain_prefix": config.get("sso_domain_prefix"),
        "custom_domain": config.get("sso_custom_domain"),
        "certificate_arn": config.get("sso_certificate_arn"),
        "callback_urls": tuple(_strings(config, "sso_callback_urls")),
        "logout_urls": tuple(_strings(config, "sso_logout_urls")),
    }
    if kind == "OIDC":
        settings |= {
            "oidc_issuer": config.get("sso_oidc_issuer"),
            "client_id": config.get("sso_client_id"),
            "client_secret": config.require_secret("sso_client_secret"),
        }
        scopes = _strings(config, "sso_authorize_scopes")
        if scopes:
            settings["authorize_scopes"] = tuple(scopes)
    else:
        settings["saml_metadata_url"] = config.get("sso_saml_metadata_url")
    spec = SsoSpec(**settings)
    try:
        spec.validate()
    except ValueError as error:
        raise ValueError(f"{ns}: {str(error).replace('sso.provider_name', 'sso_provider').replace('sso.', 'sso_')}") from None
    return spec


def _is_set(config: pulumi.Config, key: str) -> bool:
    if key == "sso_client_secret":  # read as a secret: `get` would warn that it is one
        return config.get_secret(key) is not None
    return bool(config.get(key))


def _strings(config: pulumi.Config, key: str) -> list[str]:
    value = config.get_object(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{config.name}:{key} must be a list of strings")
    return value

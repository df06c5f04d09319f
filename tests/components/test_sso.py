"""Single sign-on under the mocks: the stack config (`sso_*`) and `SsoSpec` federate the
Cognito pool the API creates with an OIDC or SAML IdP, and the result passes every policy rule.

What must hold: the IdP, the hosted UI domain and a code-flow-only client exist; no password
path is left; the IdP's stable subject lands in the claim the API trusts; the API's JWT
authorizer still trusts the pool (issuer and audience as without SSO); the client secret is
a secret; bad config is a ValueError naming the key."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from acme_eventsourcing import ApiSpec, FunctionSpec, HttpApi, HttpApiArgs, SsoKind, SsoSpec, TableRef
from acme_eventsourcing.sso import ENTRA_OBJECT_ID_CLAIM, SSO_IDENTITY_CLAIM, redirect_url_problem
from acme_eventsourcing.testing import RecordedStack, record
from acme_eventsourcing.testing.policy import check_stack
from stacks_under_test import SSO_GOOGLE, recorded_stack

IDP = "aws:cognito/identityProvider:IdentityProvider"
DOMAIN = "aws:cognito/userPoolDomain:UserPoolDomain"
CLIENT = "aws:cognito/userPoolClient:UserPoolClient"
POOL = "aws:cognito/userPool:UserPool"
AUTHORIZER = "aws:apigatewayv2/authorizer:Authorizer"
FUNCTION = "aws:lambda/function:Function"

GOOGLE = SSO_GOOGLE
#: Microsoft Entra ID over SAML, keyed by the user's object id.
ENTRA_SAML = (
    ("leave:sso_provider", "AcmeEntra"),
    ("leave:sso_kind", "SAML"),
    ("leave:sso_saml_metadata_url", "https://login.microsoftonline.com/tenant-id/federationmetadata/2007-06/federationmetadata.xml"),
    ("leave:sso_identity_source", ENTRA_OBJECT_ID_CLAIM),
    ("leave:sso_domain_prefix", "acme-leave"),
    ("leave:sso_callback_urls", '["https://leave.acme.example/callback"]'),
    ("leave:sso_attribute_mapping", '["email=http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"]'),
)


@pytest.fixture(scope="module")
def google() -> RecordedStack:
    return recorded_stack("dev", GOOGLE)


@pytest.fixture(scope="module")
def entra() -> RecordedStack:
    return recorded_stack("dev", ENTRA_SAML)


def test_oidc_config_creates_the_idp_the_hosted_ui_and_a_code_flow_client(google: RecordedStack) -> None:
    idp = google.one(IDP, "leave-users-idp")
    pool = google.one(POOL, "leave-users")
    assert idp.inputs["userPoolId"] == pool.id and idp.inputs["providerName"] == "AcmeGoogle"
    assert idp.inputs["providerType"] == "OIDC"
    assert idp.inputs["providerDetails"] == {
        "client_id": "1234-leave.apps.googleusercontent.com",
        "client_secret": "GOCSPX-not-a-real-secret",
        "oidc_issuer": "https://accounts.google.com",
        "authorize_scopes": "openid email profile",
        "attributes_request_method": "GET",
    }
    assert idp.is_secret("providerDetails", "client_secret"), "the IdP client secret must reach state as a secret"
    # the IdP's stable subject becomes the identity the API trusts
    assert idp.inputs["attributeMapping"] == {
        SSO_IDENTITY_CLAIM: "sub",
        "email": "email",
        "email_verified": "email_verified",
        "name": "name",
    }
    assert google.one(DOMAIN, "leave-users-domain").inputs == {"domain": "acme-leave", "userPoolId": pool.id}
    client = google.one(CLIENT, "leave-users-client").inputs
    assert client["allowedOauthFlows"] == ["code"] and client["allowedOauthFlowsUserPoolClient"] is True
    assert client["allowedOauthScopes"] == ["openid", "email", "profile"]
    assert client["supportedIdentityProviders"] == ["AcmeGoogle"]  # not COGNITO: nobody signs in with a password
    assert client["explicitAuthFlows"] == ["ALLOW_REFRESH_TOKEN_AUTH"]
    assert client["generateSecret"] is False and client["preventUserExistenceErrors"] == "ENABLED"
    assert client["callbackUrls"] == ["https://leave.acme.example/callback", "http://localhost:3000/callback"]
    assert client["logoutUrls"] == ["https://leave.acme.example/"]
    assert (client["idTokenValidity"], client["accessTokenValidity"], client["refreshTokenValidity"]) == (60, 60, 30)
    assert client["tokenValidityUnits"] == {"idToken": "minutes", "accessToken": "minutes", "refreshToken": "days"}
    # Cognito writes mapped attributes only through a client that may write them
    assert client["writeAttributes"] == sorted(idp.inputs["attributeMapping"])
    assert SSO_IDENTITY_CLAIM in client["readAttributes"]
    # still no self sign-up: federated users appear at their first IdP sign-in
    assert pool.inputs["adminCreateUserConfig"] == {"allowAdminCreateUserOnly": True}


def test_the_pool_keeps_the_immutable_employee_id_and_adds_the_mutable_idp_identity(google: RecordedStack) -> None:
    schemas = {s["name"]: s["mutable"] for s in google.one(POOL, "leave-users").inputs["schemas"]}
    assert schemas == {"employee_id": False, "idp_employee_id": True}
    dev = recorded_stack("dev")  # declared without SSO too: a pool's schema can only grow
    assert {s["name"]: s["mutable"] for s in dev.one(POOL, "leave-users").inputs["schemas"]} == schemas
    assert dev.of_type(IDP) == [] and dev.of_type(DOMAIN) == []
    assert dev.one(CLIENT, "leave-users-client").inputs["writeAttributes"] == ["name"]


def test_the_api_trusts_the_pool_as_before_and_the_idp_mapped_claim(google: RecordedStack) -> None:
    dev = recorded_stack("dev")
    jwt = google.one(AUTHORIZER, "leave-api-jwt").inputs["jwtConfiguration"]
    assert jwt == dev.one(AUTHORIZER, "leave-api-jwt").inputs["jwtConfiguration"]
    pool, client = google.one(POOL, "leave-users"), google.one(CLIENT, "leave-users-client")
    assert jwt == {"issuer": f"https://{pool.state['endpoint']}", "audiences": [client.id]}
    for name in ("leave-commands", "leave-queries"):
        assert google.one(FUNCTION, name).inputs["environment"]["variables"]["IDENTITY_CLAIM"] == SSO_IDENTITY_CLAIM
    assert dev.one(FUNCTION, "leave-commands").inputs["environment"]["variables"]["IDENTITY_CLAIM"] == "custom:employee_id"


def test_the_stack_exports_where_to_sign_in_and_what_to_register_at_the_idp(google: RecordedStack, entra: RecordedStack) -> None:
    assert google.outputs["sso_domain"] == "https://acme-leave.auth.us-east-1.amazoncognito.com"
    assert google.outputs["sso_redirect_uri"] == "https://acme-leave.auth.us-east-1.amazoncognito.com/oauth2/idpresponse"
    assert entra.outputs["sso_redirect_uri"] == "https://acme-leave.auth.us-east-1.amazoncognito.com/saml2/idpresponse"
    assert "sso_domain" not in recorded_stack("dev").outputs


def test_saml_config_maps_the_entra_object_id_onto_the_identity(entra: RecordedStack) -> None:
    idp = entra.one(IDP, "leave-users-idp")
    assert idp.inputs["providerType"] == "SAML"
    assert idp.inputs["providerDetails"] == {"MetadataURL": dict(ENTRA_SAML)["leave:sso_saml_metadata_url"]}
    assert idp.inputs["attributeMapping"] == {
        SSO_IDENTITY_CLAIM: ENTRA_OBJECT_ID_CLAIM,
        "email": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
    }
    assert entra.one(CLIENT, "leave-users-client").inputs["supportedIdentityProviders"] == ["AcmeEntra"]


@pytest.mark.parametrize("stack", ["google", "entra"])
def test_a_stack_with_sso_passes_every_policy_rule(stack: str, request: pytest.FixtureRequest) -> None:
    recorded: RecordedStack = request.getfixturevalue(stack)
    report = check_stack(recorded)
    assert report.ok, report.render()
    checked = {r.rule.id: r.checked for r in report.results}
    assert all(checked[f"COG00{i}"] >= 1 for i in range(1, 8)), checked  # the SSO rules saw the IdP and client


def _without(overrides: tuple[tuple[str, str], ...], key: str) -> tuple[tuple[str, str], ...]:
    return tuple((k, v) for k, v in overrides if k != key)


def _with(overrides: tuple[tuple[str, str], ...], key: str, value: str) -> tuple[tuple[str, str], ...]:
    return (*_without(overrides, key), (key, value))


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (_without(GOOGLE, "leave:sso_client_secret"), "set leave:sso_client_secret (its secret, set with pulumi config set --secret)"),
        ((*ENTRA_SAML, ("leave:sso_client_id", "x")), "leave:sso_client_id set, but leave:sso_kind is SAML"),
        (
            (*GOOGLE, ("leave:sso_saml_metadata_url", "https://idp.example/m.xml")),
            "leave:sso_saml_metadata_url set, but leave:sso_kind is OIDC",
        ),
        (_without(GOOGLE, "leave:sso_callback_urls"), "leave:sso_callback_urls (the app's sign-in callback URLs)"),
        (_without(GOOGLE, "leave:sso_domain_prefix"), "leave:sso_domain_prefix (the hosted UI's domain prefix"),
        (_without(GOOGLE, "leave:sso_provider"), "set, but leave:sso_provider is not"),
        (_without(ENTRA_SAML, "leave:sso_identity_source"), "leave:sso_identity_source (the SAML attribute that identifies a person)"),
        (_with(GOOGLE, "leave:sso_kind", "LDAP"), "leave:sso_kind must be OIDC or SAML, not 'LDAP'"),
        (_with(GOOGLE, "leave:sso_callback_urls", '["http://leave.acme.example/cb"]'), "leave: sso_callback_urls: 'http://leave.acme"),
        (_with(GOOGLE, "leave:sso_attribute_mapping", '["custom:employee_id=sub"]'), "custom:employee_id is immutable"),
        (_with(GOOGLE, "leave:sso_attribute_mapping", '["email"]'), "entry 'email' is not '<pool attribute>=<IdP claim>'"),
        (_with(GOOGLE, "leave:sso_attribute_mapping", '"email=email"'), "leave:sso_attribute_mapping must be a list of strings"),
        (_with(GOOGLE, "leave:sso_provider", "COGNITO"), "leave: sso_provider 'COGNITO' must be 3-32 letters"),
        (_with(GOOGLE, "leave:sso_domain_prefix", "acme-cognito"), "without 'aws', 'amazon' or 'cognito'"),
        (_with(GOOGLE, "leave:sso_oidc_issuer", "http://accounts.google.com"), "sso_oidc_issuer must be the IdP's https issuer URL"),
        (_with(GOOGLE, "leave:jwt_issuer", "https://issuer.example"), "with jwt (an existing issuer) configure SSO at that issuer"),
    ],
)
def test_bad_sso_config_is_a_clear_value_error(overrides: tuple[tuple[str, str], ...], expected: str) -> None:
    if any(k == "leave:jwt_issuer" for k, _ in overrides):
        overrides = (*overrides, ("leave:jwt_audiences", '["client"]'))
    with pytest.raises(ValueError) as error:
        recorded_stack("dev", overrides)
    assert expected in str(error.value)


# -- SsoSpec on an HttpApi used alone ---------------------------------------------------------------

EVENTS = TableRef(table_name="events", table_arn="arn:aws:dynamodb:us-east-1:123456789012:table/events")


@pytest.fixture(scope="module")
def code_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("lambdas")
    (root / "app").mkdir()
    (root / "app" / "__init__.py").write_text("")
    (root / "app" / "handlers.py").write_text("def handler(event, context):\n    return {}\n")
    return root


def _api(code_root: Path, sso: SsoSpec, **overrides: Any) -> ApiSpec:
    function = FunctionSpec(handler="app.handlers.handler", code_root=str(code_root), packages=("app",))
    return ApiSpec(
        commands=function, queries=function, command_routes=("POST /things",), query_routes=("GET /things",), sso=sso, **overrides
    )


SAML_METADATA = '<?xml version="1.0"?><EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://sts.example/"/>'


def test_saml_metadata_from_a_file_and_a_custom_domain(code_root: Path, tmp_path: Path) -> None:
    metadata = tmp_path / "entra.xml"
    metadata.write_text(SAML_METADATA)
    sso = SsoSpec(
        provider_name="AcmeEntra",
        kind=SsoKind.SAML,
        saml_metadata_file=str(metadata),
        identity_source=ENTRA_OBJECT_ID_CLAIM,
        custom_domain="login.acme.example",
        certificate_arn="arn:aws:acm:us-east-1:123456789012:certificate/abc-123",
        callback_urls=("https://leave.acme.example/callback",),
        generate_secret=True,
    )
    stack = record(lambda: HttpApi("orders", HttpApiArgs(source="acme.orders", api=_api(code_root, sso), events_table=EVENTS)))
    assert stack.one(IDP, "orders-users-idp").inputs["providerDetails"] == {"MetadataFile": SAML_METADATA}
    domain = stack.one(DOMAIN, "orders-users-domain").inputs
    assert domain["domain"] == "login.acme.example" and domain["certificateArn"] == sso.certificate_arn
    assert stack.one(CLIENT, "orders-users-client").inputs["generateSecret"] is True
    assert check_stack(stack).ok, check_stack(stack).render()


GOOD_OIDC = SsoSpec(
    provider_name="AcmeGoogle",
    oidc_issuer="https://accounts.google.com",
    client_id="id",
    client_secret="secret",
    domain_prefix="acme-leave",
    callback_urls=("https://leave.acme.example/callback",),
)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"domain_prefix": None}, "exactly one of domain_prefix"),
        ({"custom_domain": "login.acme.example"}, "exactly one of domain_prefix"),
        ({"domain_prefix": None, "custom_domain": "login.acme.example"}, "needs certificate_arn: an ACM certificate in us-east-1"),
        (
            {
                "domain_prefix": None,
                "custom_domain": "login.acme.example",
                "certificate_arn": "arn:aws:acm:eu-west-1:123456789012:certificate/x",
            },
            "in us-east-1",
        ),
        ({"certificate_arn": "arn:aws:acm:us-east-1:123456789012:certificate/x"}, "certificate_arn is only for custom_domain"),
        ({"authorize_scopes": ("email",)}, "must include 'openid'"),
        ({"saml_metadata_url": "https://idp.example/m.xml"}, "are for kind SAML, not OIDC"),
        ({"kind": SsoKind.SAML}, "exactly one of saml_metadata_url or saml_metadata_file"),
        ({"kind": SsoKind.SAML, "saml_metadata_file": "/nonexistent/metadata.xml"}, "is not a file holding SAML metadata"),
        ({"attribute_mapping": {SSO_IDENTITY_CLAIM: "sub"}}, "set identity_source instead"),
        ({"attribute_mapping": {"custom:team": "team"}}, "not a standard attribute of the pool"),
        ({"callback_urls": ()}, "at least one URL"),
        ({"logout_urls": ("https://leave.acme.example/#x",)}, "has a fragment"),
        ({"token_validity_minutes": 2}, "within 5..1440"),
        ({"refresh_token_validity_days": 0}, "within 1..3650"),
    ],
)
def test_invalid_sso_specs_raise(changes: dict[str, Any], expected: str) -> None:
    with pytest.raises(ValueError, match="sso") as error:
        replace(GOOD_OIDC, **changes).validate()
    assert expected in str(error.value)


def test_sso_needs_the_pool_the_api_creates(code_root: Path) -> None:
    from acme_eventsourcing import JwtIssuerRef

    spec = _api(code_root, GOOD_OIDC, jwt=JwtIssuerRef(issuer="https://issuer.example", audiences=("a",)))
    with pytest.raises(ValueError, match="configure SSO at that issuer"):
        spec.validate()
    GOOD_OIDC.validate()  # the baseline is valid


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://leave.acme.example/callback", True),
        ("http://localhost:3000/callback", True),
        ("http://127.0.0.1/cb", True),
        ("http://localhost.evil.example/cb", False),
        ("http://leave.acme.example/callback", False),
        ("https://user:pw@leave.acme.example/", False),
        ("myapp://callback", False),
    ],
)
def test_redirect_urls_are_https_or_loopback(url: str, ok: bool) -> None:
    assert (redirect_url_problem(url) is None) is ok

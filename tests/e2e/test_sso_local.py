"""The local stack with single sign-on configured: nothing new runs (there is no IdP or hosted
UI locally), but the API trusts the claim the IdP mapping fills, `custom:idp_employee_id`, and
the local JWT issuer puts the caller there, so the stack starts and serves as before."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from acme_eventsourcing.local.client import ApiClient
from acme_eventsourcing.local.program import evaluate

from local import ROOT, LocalStack

SSO_CONFIG = {
    "leave:sso_provider": "AcmeGoogle",
    "leave:sso_oidc_issuer": "https://accounts.google.com",
    "leave:sso_client_id": "1234-leave.apps.googleusercontent.com",
    "leave:sso_client_secret": "not-a-real-secret",
    "leave:sso_domain_prefix": "acme-leave-dev",
    "leave:sso_callback_urls": ["http://localhost:3000/callback"],
    "leave:sso_attribute_mapping": ["email=email", "name=name"],
}


@pytest.fixture(scope="module")
def sso_stack(stack_factory: Callable[..., LocalStack]) -> Iterator[LocalStack]:
    stack = stack_factory(evaluate("dev", program=ROOT, config_overrides=SSO_CONFIG).recorded)
    yield stack
    stack.stop()


def test_the_local_stack_starts_with_sso_and_identifies_callers_by_the_idp_mapped_claim(sso_stack: LocalStack) -> None:
    assert sso_stack.identity_claim() == "custom:idp_employee_id"
    issuer, audiences = sso_stack.authorizer()
    assert issuer.startswith("https://cognito-idp.") and audiences  # the pool's issuer and client, as without SSO
    api = ApiClient(sso_stack.api_url, lambda sub, groups: sso_stack.token(sub, groups))
    ana = api.as_user("ana", "admin")
    assert ana.post("/locations", {"name": "Porto"}).status == 201


def test_a_token_with_only_the_password_users_claim_is_401_under_sso(sso_stack: LocalStack) -> None:
    token = sso_stack.token("ana", ["admin"], identity_claim="custom:employee_id")
    response = ApiClient(sso_stack.api_url, token=token).get("/approvers/ana/pending")
    assert response.status == 401 and "custom:idp_employee_id" in response.text

"""Creating connections from the console: an app-level client-credentials connection, and a
stored-credential one (an API key, a basic credential, a header's value).

Both go through the admin API's services (``connections.client_credentials.create``,
``connections.stored_credentials.store_credential``) as the signed-in operator, audited under their
name; so the provider refuses a credential or an exchange before anything is stored. A created
connection's page follows (POST-redirect-GET). A refusal shows the form again with the gateway's
reason on top and the operator's fields kept, except the secret: it is never written back into a
page, in the form or anywhere else.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from gateway.connections import client_credentials
from gateway.connections.client_credentials import ClientCredentialsRequest
from gateway.connections.stored_credentials import (
    FIELDS,
    CredentialRequest,
    credential_provider,
    store_credential,
)
from gateway.console.guard import Operator, operator_page
from gateway.console.outcomes import Outcome, done_url, refused
from gateway.console.render import page, see_other
from gateway.exceptions import GatewayError
from gateway.kit.request_body import validated
from gateway.providers.registry import ProviderRegistry
from gateway.resources import resources

# What the secret field of the form is, in the admin API's body, for each kind of credential.
SECRET_FIELD = {kind: names[-1] for kind, names in FIELDS.items()}


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


@dataclass(frozen=True)
class ClientCredentialsForm:
    """The client-credentials form as sent: scopes space-separated, resources one a line."""

    provider: str = ""
    user_id: str = ""
    scopes: str = ""
    audience: str = ""
    resources: str = ""
    owner: str = ""

    @classmethod
    def submitted(cls, form: FormData) -> ClientCredentialsForm:
        return cls(**{field.name: _text(form, field.name) for field in fields(cls)})

    def request(self) -> ClientCredentialsRequest:
        body: dict[str, object] = {"user_id": self.user_id, "provider": self.provider or None}
        if self.scopes:
            body["scopes"] = self.scopes.split()
        if self.audience:
            body["audience"] = self.audience
        if self.resources:
            body["resource"] = self.resources.split()
        if self.owner:
            body["owner"] = self.owner
        return validated(ClientCredentialsRequest, body)


@dataclass(frozen=True)
class CredentialForm:
    """The stored-credential form as sent, but for its secret (``secret``), which is read once into
    the request and never kept here."""

    provider: str = ""
    user_id: str = ""
    username: str = ""
    owner: str = ""
    additional: bool = False

    @classmethod
    def submitted(cls, form: FormData) -> CredentialForm:
        return cls(
            provider=_text(form, "provider"),
            user_id=_text(form, "user_id"),
            username=_text(form, "username"),
            owner=_text(form, "owner"),
            additional=form.get("additional") == "true",
        )

    def request(self, providers: ProviderRegistry, secret: object) -> CredentialRequest:
        """The admin API's body: the secret goes in the field the provider's kind takes."""
        profile = credential_provider(providers, self.provider or None).credentials
        assert profile is not None
        body: dict[str, object] = {
            "user_id": self.user_id,
            "provider": self.provider or None,
            "additional": self.additional,
            SECRET_FIELD[profile.kind]: secret if isinstance(secret, str) and secret else None,
        }
        if profile.kind == "basic":
            body["username"] = self.username or None
        if self.owner:
            body["owner"] = self.owner
        return validated(CredentialRequest, body)


def _providers(registry: ProviderRegistry) -> tuple[list[str], list[dict[str, str]]]:
    """The providers that take OAuth grants, and those that take stored credentials with their
    kind."""
    oauth: list[str] = []
    stored: list[dict[str, str]] = []
    for name in registry.names:
        profile = registry.get(name).credentials
        if profile is None:
            oauth.append(name)
        else:
            stored.append({"name": name, "kind": profile.kind})
    return oauth, stored


def _page(
    request: Request,
    operator: Operator,
    *,
    outcome: Outcome | None = None,
    cc_form: ClientCredentialsForm | None = None,
    credential_form: CredentialForm | None = None,
    status_code: int = 200,
) -> Response:
    oauth, stored = _providers(resources(request).providers)
    return page(
        "new_connection.html",
        status_code=status_code,
        operator=operator,
        outcome=outcome,
        oauth_providers=oauth,
        credential_providers=stored,
        cc=cc_form or ClientCredentialsForm(),
        cred=credential_form or CredentialForm(),
    )


@operator_page
async def show(request: Request, operator: Operator) -> Response:
    return _page(request, operator)


@operator_page
async def create_client_credentials(request: Request, operator: Operator) -> Response:
    """Exchange the gateway's client credentials at the provider and keep the token as a new
    connection."""
    res = resources(request)
    form = ClientCredentialsForm.submitted(await request.form())
    try:
        created = await client_credentials.create(
            res.db,
            res.keys,
            res.providers,
            res.settings,
            form.request(),
            actor=operator.acting,
            audit_actor=operator.actor,
        )
    except GatewayError as exc:
        outcome = refused("not_created", "Not created", exc)
        return _page(request, operator, outcome=outcome, cc_form=form, status_code=exc.status_code)
    return see_other(done_url(created.id, "created"))


@operator_page
async def create_credential(request: Request, operator: Operator) -> Response:
    """Verify the credential with the provider, then keep it on a connection (a new one, or the
    user's default there, its credential replaced)."""
    res = resources(request)
    submitted = await request.form()
    form = CredentialForm.submitted(submitted)
    try:
        stored = await store_credential(
            res.db,
            res.keys,
            res.providers,
            res.http,
            res.settings,
            form.request(res.providers, submitted.get("secret")),
            actor=operator.actor,
            client_id=operator.client_id,
        )
    except GatewayError as exc:
        outcome = refused("not_created", "Not stored", exc)
        return _page(
            request, operator, outcome=outcome, credential_form=form, status_code=exc.status_code
        )
    done = "created" if stored.created else "credential_replaced"
    return see_other(done_url(stored.connection.id, done))

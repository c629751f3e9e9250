"""A typed async client for one provider's OAuth endpoints, over the app's shared httpx client."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
from pydantic import SecretStr

from gateway.providers.client_auth import basic_auth, client_authentication, credentials
from gateway.providers.client_key import ClientKey
from gateway.providers.config import ProviderConfig
from gateway.providers.credential_profile import CredentialProfile
from gateway.providers.discovery import DiscoveredProvider, discover
from gateway.providers.errors import (
    GrantRejected,
    InvalidIdToken,
    IssuerMismatch,
    ProviderError,
    ProviderUnavailable,
    bearer_error_from_response,
    error_from_response,
    json_body,
    oauth_error_fields,
    transport_error,
    unavailable_from_response,
)
from gateway.providers.id_token import IdTokenValidator, subject_claim
from gateway.providers.profile_options import token_set
from gateway.providers.spender import Spender
from gateway.providers.token_response import TokenSet

logger = logging.getLogger(__name__)

JSON_ACCEPT = {"Accept": "application/json"}
# A form field's value, or a repeated field's values (RFC 8707's ``resource``).
FormValue = str | list[str]


class TokenGate(Protocol):
    """Admits each request to a provider's OAuth endpoints within ``spender``'s share of the rate
    budget, or raises."""

    async def spend(self, provider: str, spender: Spender) -> None: ...


class OAuthClient:
    """Authorization URLs, token requests, revocation, introspection, userinfo and ID tokens.

    Every request to the provider's OAuth endpoints names its ``spender``: the budget counts it
    against that caller's share.

    A provider given by its issuer learns its endpoints on first use (one discovery, then cached);
    the attributes that need no network (``name``, ``issuer``, ``scopes``, ``pkce``,
    ``api_base_url``, ``profile``, ``uses_openid``) are known at once.
    """

    def __init__(
        self,
        source: ProviderConfig | DiscoveredProvider,
        http: httpx.AsyncClient,
        gate: TokenGate | None = None,
    ) -> None:
        self._http = http
        self._gate = gate
        self._source = source
        self.profile = source.profile  # the API side: settings, base URL, credential injection
        self._config = source if isinstance(source, ProviderConfig) else None
        # How the provider takes stored credentials; None for an OAuth provider.
        self.credentials: CredentialProfile | None = (
            self._config.credentials if self._config is not None else None
        )
        self._discovering = asyncio.Lock()
        self._validator: IdTokenValidator | None = None

    def __repr__(self) -> str:
        return f"<OAuthClient {self.name!r}>"

    @property
    def name(self) -> str:
        return self._source.name

    @property
    def issuer(self) -> str | None:
        return self._source.issuer

    @property
    def scopes(self) -> tuple[str, ...]:
        return self._source.scopes

    @property
    def api_base_url(self) -> str:
        return self._source.api_base_url

    @property
    def pkce(self) -> bool:
        return self._source.pkce

    @property
    def uses_openid(self) -> bool:
        return "openid" in self.scopes

    @property
    def client_key(self) -> ClientKey | None:
        """The key of ``private_key_jwt`` client authentication, if the provider uses it."""
        return self._source.client_key

    async def load_config(self) -> ProviderConfig:
        """The provider's full config, discovering its endpoints first if need be."""
        if self._config is None:
            async with self._discovering:
                if self._config is None:
                    assert isinstance(self._source, DiscoveredProvider)
                    metadata = await discover(self._http, self._source.issuer, provider=self.name)
                    self._config = self._source.build(metadata)
        return self._config

    async def authorization_url(
        self,
        *,
        redirect_uri: str,
        state: str,
        code_challenge: str | None,
        nonce: str | None,
        scopes: Sequence[str] | None = None,
        login_hint: str | None = None,
        max_age: int | None = None,
    ) -> str:
        """The URL to send the user's browser to. Async: a discovered provider may need a lookup.

        ``code_challenge`` (S256) is required when the provider uses PKCE, and ``nonce`` when the
        request asks for ``openid``; leaving either out is a programming error (ValueError).
        """
        config = await self.load_config()
        requested = tuple(config.scopes if scopes is None else scopes)
        params = {"response_type": "code", "client_id": config.client_id}
        params["redirect_uri"] = redirect_uri
        if requested:
            params["scope"] = config.scope_separator.join(requested)
        params["state"] = state
        if "openid" in requested:
            if not nonce:
                raise ValueError("an openid authorization request needs a nonce")
            params["nonce"] = nonce
        if config.pkce:
            if not code_challenge:
                raise ValueError(f"provider {self.name!r} uses PKCE: pass a code_challenge")
            params["code_challenge"] = code_challenge
            params["code_challenge_method"] = "S256"
        if login_hint:
            params["login_hint"] = login_hint
        params.update(config.authorize_params)
        if max_age is not None:  # a new sign-in at the provider (OIDC Core 3.1.2.1), not optional
            params.update(max_age=str(max_age), prompt="login")
        return _with_query(config.authorize_url, params)

    def check_callback_issuer(self, iss: str | None) -> None:
        """RFC 9207: an ``iss`` on the authorization response must be this provider's issuer."""
        if iss is None or iss == self.issuer:
            return
        expected = "no issuer is configured" if self.issuer is None else f"expected {self.issuer}"
        raise IssuerMismatch(
            f"{self.name} callback names issuer {iss[:100]!r}; {expected}", provider=self.name
        )

    async def exchange_code(
        self, *, code: str, redirect_uri: str, code_verifier: str | None, spender: Spender
    ) -> TokenSet:
        config = await self.load_config()
        form = {
            **config.token_params,
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
        }
        if config.pkce:
            if not code_verifier:
                raise ValueError(f"provider {self.name!r} uses PKCE: pass the code_verifier")
            form["code_verifier"] = code_verifier
        return await self.token_request(config, form, "code exchange", spender)

    async def refresh(self, refresh_token: str, *, spender: Spender) -> TokenSet:
        """New tokens for a refresh token.

        When the response has no ``refresh_token`` (a provider that does not rotate them), the
        result carries the one passed in: RFC 6749 §6 lets the client keep using it.
        """
        config = await self.load_config()
        form = {
            **config.refresh_params,
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
        }
        tokens = await self.token_request(config, form, "token refresh", spender)
        if tokens.refresh_token is None:
            if config.refresh.rotates:
                logger.warning(
                    "%s refresh answer has no refresh token; keeping the current one (set "
                    "refresh.rotates = false in its profile if it never rotates them)",
                    self.name,
                )
            return dataclasses.replace(tokens, refresh_token=SecretStr(refresh_token))
        return tokens

    async def revoke(self, token: str, token_type_hint: str, *, spender: Spender) -> None:
        """RFC 7009. Does nothing when the provider has no revocation endpoint."""
        config = await self.load_config()
        if config.revocation_url is None:
            return
        form = {"token": token, "token_type_hint": token_type_hint}
        await self._authenticated_post(config, config.revocation_url, form, "revocation", spender)

    async def introspect(self, token: str, *, spender: Spender) -> dict[str, object]:
        """RFC 7662: the provider's view of a token (``active``, ``sub``, ``scope``, ``exp``...)."""
        config = await self.load_config()
        if config.introspection_url is None:
            raise ProviderError(f"{self.name} has no introspection endpoint", provider=self.name)
        response = await self._authenticated_post(
            config, config.introspection_url, {"token": token}, "introspection", spender
        )
        return self._json_object(response, "introspection")

    async def userinfo(self, access_token: str) -> dict[str, object]:
        config = await self.load_config()
        if config.userinfo_url is None:
            raise ProviderError(f"{self.name} has no userinfo endpoint", provider=self.name)
        headers = {**JSON_ACCEPT, "Authorization": f"Bearer {access_token}"}
        response = await self._send("GET", config.userinfo_url, "userinfo request", headers=headers)
        if not response.is_success:
            raise bearer_error_from_response(self.name, "userinfo request", response)
        return self._json_object(response, "userinfo request")

    async def validate_id_token(self, id_token: str, *, nonce: str | None) -> dict[str, object]:
        """The claims of a valid ID token; InvalidIdToken otherwise."""
        config = await self.load_config()
        if self._validator is None:
            if config.issuer is None or config.jwks_uri is None:
                raise InvalidIdToken(
                    f"{self.name} ID token cannot be checked: no issuer or jwks_uri is configured",
                    provider=self.name,
                )
            self._validator = IdTokenValidator(
                self._http,
                provider=self.name,
                issuer=config.issuer,
                client_id=config.client_id,
                jwks_uri=config.jwks_uri,
            )
        return await self._validator.validate(id_token, nonce=nonce)

    async def subject(self, tokens: TokenSet, *, nonce: str | None, spender: Spender) -> str:
        """The provider's id for the user: from the ID token, else userinfo, else introspection."""
        if tokens.id_token is not None:
            claims = await self.validate_id_token(tokens.id_token.get_secret_value(), nonce=nonce)
            return str(claims["sub"])  # validation made sure it is a non-empty string
        config = await self.load_config()
        access_token = tokens.access_token.get_secret_value()
        if config.userinfo_url is not None:
            try:
                sub = subject_claim(await self.userinfo(access_token))
            except ProviderUnavailable:
                raise
            except ProviderError:
                if config.introspection_url is None:
                    raise
                sub = None  # e.g. a scope without profile; introspection may still say
            if sub is not None:
                return sub
        if config.introspection_url is not None:
            info = await self.introspect(access_token, spender=spender)
            if info.get("active") is not True:
                raise GrantRejected(
                    f"{self.name} says the new access token is not active", provider=self.name
                )
            if (sub := subject_claim(info)) is not None:
                return sub
        raise ProviderError(
            f"{self.name} did not say who the user is: no ID token, and no sub from userinfo "
            "or introspection",
            provider=self.name,
        )

    async def token_request(
        self, config: ProviderConfig, form: Mapping[str, FormValue], what: str, spender: Spender
    ) -> TokenSet:
        """POST ``form`` to the token endpoint as the gateway's client; the tokens it answers."""
        response = await self._authenticated_post(config, config.token_url, form, what, spender)
        return token_set(config, json_body(response))

    async def post_json(
        self, url: str, body: Mapping[str, object], what: str, *, spender: Spender
    ) -> httpx.Response:
        """POST JSON as the gateway's client: Basic auth and ``client_id`` in the body, as Contio's
        partner endpoints (``/auth/*``, ``POST /oauth2/authorize``) want.

        Spends the budget and tries the next secret on ``invalid_client`` like the token requests.
        Transient failures raise ProviderUnavailable; any other answer, success or not, is returned
        for the caller to classify (the partner endpoints' error bodies carry more than OAuth's).
        """
        config = await self.load_config()
        payload = {"client_id": config.client_id, **body}

        async def send(secret: SecretStr | None) -> httpx.Response:
            if secret is None:
                raise ProviderError(f"{self.name} {what} needs a client secret", provider=self.name)
            headers = {
                **JSON_ACCEPT,
                "Authorization": basic_auth(config.client_id, secret.get_secret_value()),
            }
            return await self._send("POST", url, what, json=payload, headers=headers)

        response = await self._as_client(config, send, spender)
        if response.status_code == 429 or response.status_code >= 500:
            raise unavailable_from_response(self.name, what, response)
        return response

    async def _authenticated_post(
        self,
        config: ProviderConfig,
        url: str,
        form: Mapping[str, FormValue],
        what: str,
        spender: Spender,
    ) -> httpx.Response:
        """POST a form as the gateway's client; any failure becomes a ProviderError."""

        async def send(secret: SecretStr | None) -> httpx.Response:
            headers, fields = client_authentication(config, secret)
            data = {**form, **fields}
            return await self._send(
                "POST", url, what, data=data, headers={**JSON_ACCEPT, **headers}
            )

        response = await self._as_client(config, send, spender)
        if not response.is_success:
            raise error_from_response(self.name, what, response)
        return response

    async def _as_client(
        self,
        config: ProviderConfig,
        send: Callable[[SecretStr | None], Awaitable[httpx.Response]],
        spender: Spender,
    ) -> httpx.Response:
        """Send with each client secret in turn until one is not refused as ``invalid_client``
        (the overlap of a rotation); every attempt spends the budget. Returns the last answer."""
        response: httpx.Response | None = None
        for index, secret in enumerate(credentials(config)):
            if self._gate is not None:
                await self._gate.spend(self.name, spender)
            response = await send(secret)
            if (
                response.is_success
                or oauth_error_fields(json_body(response))[0] != "invalid_client"
            ):
                if index and response.is_success:
                    logger.warning(
                        "%s rejected client secret #1; secret #%d worked: finish the rotation",
                        self.name,
                        index + 1,
                    )
                return response
        assert response is not None  # there is always at least one attempt
        return response  # every secret was refused as invalid_client

    async def _send(
        self,
        method: str,
        url: str,
        what: str,
        *,
        headers: Mapping[str, str],
        data: Mapping[str, FormValue] | None = None,
        json: Mapping[str, object] | None = None,
    ) -> httpx.Response:
        try:
            return await self._http.request(method, url, headers=headers, data=data, json=json)
        except httpx.HTTPError as exc:
            raise transport_error(self.name, what, exc) from exc

    def _json_object(self, response: httpx.Response, what: str) -> dict[str, object]:
        body = json_body(response)
        if not isinstance(body, dict):
            raise ProviderError(
                f"{self.name} {what} answered with something other than a JSON object",
                provider=self.name,
                upstream_status=response.status_code,
            )
        return body


def _with_query(url: str, params: Mapping[str, str]) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))

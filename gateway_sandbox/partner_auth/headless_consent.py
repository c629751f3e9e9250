"""Consent without a browser: ``POST /oauth2/check-consent`` and
``POST /oauth2/authorize``, both acting for a user whose code was verified within the session's
30 minutes (``session_ttl``).

- check-consent (Basic client auth) answers ``{has_consent, requires_consent, session_valid,
  redirect_url}``. The OpenAPI spec sends ``scopes`` (a list), the SDK ``scope`` (a string): both
  are read, ``scopes`` first. With consent already given, a live session and a ``redirect_uri``,
  ``redirect_url`` carries a fresh code; otherwise it is ``null``.
- ``POST /oauth2/authorize`` with ``{client_id, email, consent, redirect_uri, response_type, scope,
  state, code_challenge, code_challenge_method}`` answers ``{code, redirect_url, state}``; PKCE is
  S256 only, optional as in the browser flow. ``consent: false`` answers ``code: null`` and a
  ``redirect_url`` with ``error=access_denied``.

Choices where Contio says nothing: Basic client auth on ``POST /oauth2/authorize`` is optional (the
docs name none) but checked when sent; without a verified session the answer is 401
``unauthorized``, after it ran out 401 ``session_expired`` (check-consent included, as the docs say
calls then fail); errors take the partner API shape, ``invalid_scope`` and
``unsupported_response_type`` keeping their OAuth codes.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import URL
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway_sandbox import pkce
from gateway_sandbox.errors import NO_STORE, ApiError
from gateway_sandbox.json_bodies import Body, invalid, json_body
from gateway_sandbox.oauth import scopes
from gateway_sandbox.oauth.discovery import issuer_for
from gateway_sandbox.partner_auth.endpoints import authenticate
from gateway_sandbox.state.challenges import SessionExpired
from gateway_sandbox.state.records import User
from gateway_sandbox.state.store import SandboxStore


class ConsentEndpoints:
    def __init__(self, store: SandboxStore) -> None:
        self.store = store

    async def check_consent(self, request: Request) -> Response:
        body = await json_body(request)
        authenticate(request, body, self.store)
        user = self.store.user_by_email(body.email("email"))
        requested = _scopes(body)
        session_valid = user is not None and self._session(user)
        has_consent = user is not None and self.store.has_consent(user, requested)
        redirect_url = None
        if user is not None and session_valid and has_consent and body.has("redirect_uri"):
            redirect_url = self._redirect(request, body, user, requested)[1]
        answer = {
            "has_consent": has_consent,
            "requires_consent": not has_consent,
            "session_valid": session_valid,
            "redirect_url": redirect_url,
        }
        return JSONResponse(answer, headers=NO_STORE)

    async def authorize(self, request: Request) -> Response:
        body = await json_body(request)
        authenticate(request, body, self.store, required=False)
        email = body.email("email")
        consent = body.boolean("consent")
        if consent is None:
            raise invalid("consent is required: true or false.")
        requested = _scopes(body)
        redirect_uri = self._redirect_uri(body, strict=True)
        user = self.store.user_by_email(email)
        if user is None or not self._session(user):
            raise ApiError(401, "unauthorized", "No verified session for this email.")
        state = body.text("state")
        if not consent:
            url = _url(redirect_uri, request, self.store, error="access_denied", state=state)
            return JSONResponse(
                {"code": None, "redirect_url": url, "state": state}, headers=NO_STORE
            )
        self.store.record_consent(user, requested)
        code, url = self._redirect(request, body, user, requested)
        return JSONResponse({"code": code, "redirect_url": url, "state": state}, headers=NO_STORE)

    def _session(self, user: User) -> bool:
        try:
            return self.store.challenges.session(user.id)
        except SessionExpired as exc:
            raise ApiError(401, "session_expired", str(exc)) from exc

    def _redirect_uri(self, body: Body, strict: bool) -> str:
        """The checked ``redirect_uri``; ``response_type`` must be ``code``, and be sent when
        ``strict`` (``POST /oauth2/authorize`` requires it, check-consent does not)."""
        redirect_uri = body.required_text("redirect_uri")
        if redirect_uri not in self.store.options.redirect_uris:
            raise invalid("redirect_uri is not an exact match of a registered one.")
        response_type = body.text("response_type")
        if response_type is None and strict:
            raise invalid("response_type is required.")
        if response_type not in (None, "code"):
            raise invalid("Only response_type=code is supported.", "unsupported_response_type")
        return redirect_uri

    def _redirect(
        self, request: Request, body: Body, user: User, requested: tuple[str, ...]
    ) -> tuple[str, str]:
        """A new code for the user and the redirect URL carrying it."""
        redirect_uri = self._redirect_uri(body, strict=False)
        challenge = _code_challenge(body)
        code = self.store.issue_code(user, redirect_uri, requested, None, challenge)
        url = _url(redirect_uri, request, self.store, code=code, state=body.text("state"))
        return code, url


def _scopes(body: Body) -> tuple[str, ...]:
    listed = body.raw.get("scopes")
    if listed is not None:
        if not isinstance(listed, list) or not all(isinstance(s, str) for s in listed):
            raise invalid("scopes must be a list of strings.")
        text = " ".join(listed)
    else:
        value = body.raw.get("scope")
        if value is not None and not isinstance(value, str):
            raise invalid("scope must be a space-separated string.")
        text = value or ""
    try:
        return scopes.parse(text)
    except scopes.UnknownScope as exc:
        raise invalid(str(exc), "invalid_scope") from exc


def _code_challenge(body: Body) -> str | None:
    challenge = body.text("code_challenge")
    method = body.text("code_challenge_method")
    if challenge is None and method is None:
        return None
    if method != "S256":
        raise invalid("code_challenge_method must be S256.")
    if challenge is None or not pkce.is_valid_challenge(challenge):
        raise invalid("code_challenge must be a base64url SHA-256 digest.")
    return challenge


def _url(redirect_uri: str, request: Request, store: SandboxStore, **params: Any) -> str:
    params["iss"] = issuer_for(request, store.options)
    present = {name: value for name, value in params.items() if value is not None}
    return str(URL(redirect_uri).include_query_params(**present))

"""The browser half of the code flow: ``GET /oauth2/authorize`` and the consent form it shows.

A request whose client or redirect URI is not registered (exact string match) gets an HTML error
page: nothing is ever sent to an unverified URI. Any other fault is redirected back to the client
with ``error``, ``error_description``, ``state`` and ``iss`` (RFC 9207).

The consent form carries the authorize parameters as hidden fields and ``POST /oauth2/consent``
checks them all again. There is no login: whoever submits an email signs in as that user (created
on first sign-in, with a personal workspace), which is the point of a sandbox. With a
``login_hint`` the email is fixed to the hint. With ``auto_approve`` there is no page at all.

With ``remember_sign_ins``, signing in on the page opens a session at the sandbox (the
``sandbox_sign_in`` cookie, see ``state.sign_ins``): later requests from that browser are approved
at once as that user, as a company's identity provider does, unless they ask for a new sign-in with
``prompt=login`` or a ``max_age`` the session is older than (OIDC Core §3.1.2.1).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from starlette.datastructures import URL, FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gateway_sandbox import pkce
from gateway_sandbox.errors import NO_STORE
from gateway_sandbox.oauth import pages, scopes
from gateway_sandbox.oauth.discovery import issuer_for
from gateway_sandbox.options import SandboxOptions
from gateway_sandbox.state.store import DEMO_EMAIL, SandboxStore

PARAMETERS = (
    "client_id", "redirect_uri", "response_type", "scope", "state", "nonce", "login_hint",
    "code_challenge", "code_challenge_method", "prompt", "max_age",
)  # fmt: skip
SIGN_IN_COOKIE = "sandbox_sign_in"
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]+")


class Untrusted(Exception):
    """The client or redirect URI cannot be trusted: answer with a page, never a redirect."""


class Refused(Exception):
    """An authorization error to send back to the client's redirect URI."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


@dataclass(frozen=True)
class AuthorizationRequest:
    redirect_uri: str
    scopes: tuple[str, ...]
    nonce: str | None
    login_hint: str | None
    code_challenge: str | None
    params: dict[str, str]  # what the consent form posts back
    max_age: int | None = None
    login_prompt: bool = False  # prompt=login: sign in again whatever session there is


@dataclass(frozen=True)
class Reply:
    """Redirects back to the client, always with its ``state`` and our ``iss``."""

    redirect_uri: str
    state: str | None
    issuer: str

    def redirect(self, **params: str) -> Response:
        extra = {"state": self.state, "iss": self.issuer}
        query = {**params, **{k: v for k, v in extra.items() if v is not None}}
        url = URL(self.redirect_uri).include_query_params(**query)
        return RedirectResponse(str(url), status_code=302, headers=NO_STORE)


def is_email(value: str) -> bool:
    return len(value) <= 254 and _EMAIL.fullmatch(value) is not None


class AuthorizeEndpoints:
    def __init__(self, store: SandboxStore) -> None:
        self.store = store
        self.options = store.options

    async def authorize(self, request: Request) -> Response:
        return self._handle(request, request.query_params.multi_items(), form=None)

    async def consent(self, request: Request) -> Response:
        form = await request.form()
        return self._handle(request, form.multi_items(), form)

    def _handle(
        self, request: Request, items: Iterable[tuple[str, object]], form: FormData | None
    ) -> Response:
        params, repeated = _collect(items)
        try:
            redirect_uri = _trusted_redirect_uri(params, repeated, self.options)
        except Untrusted as exc:
            return pages.error_page("Invalid authorization request", str(exc))
        reply = Reply(redirect_uri, params.get("state") or None, issuer_for(request, self.options))
        try:
            auth = _read(params, repeated, redirect_uri, self.options)
            if form is not None:
                return self._decide(auth, form, reply)
            held = None if auth.login_prompt else request.cookies.get(SIGN_IN_COOKIE)
            signed_in = self.store.sign_ins.current(held, max_age=auth.max_age)
            if signed_in is not None and auth.login_hint in (None, signed_in.email):
                self.store.sign_ins.reuse(signed_in)
                return self._approve(auth, signed_in.email, reply)
            if self.options.auto_approve:
                return self._approve(auth, auth.login_hint or DEMO_EMAIL, reply)
            return self._page(auth, auth.login_hint or "")
        except Refused as exc:
            return reply.redirect(error=exc.error, error_description=exc.description)

    def _decide(self, auth: AuthorizationRequest, form: FormData, reply: Reply) -> Response:
        decision = form.get("decision")
        if decision == "deny":
            raise Refused("access_denied", "The user denied the authorization request.")
        posted = form.get("email")
        email = auth.login_hint or (posted.strip().lower() if isinstance(posted, str) else "")
        if decision != "approve":
            return self._page(auth, email, "Choose Approve or Deny.")
        if not is_email(email):
            return self._page(auth, email, "Enter a valid email address.")
        return self._approve(auth, email, reply, new_sign_in=self.options.remember_sign_ins)

    def _approve(
        self, auth: AuthorizationRequest, email: str, reply: Reply, *, new_sign_in: bool = False
    ) -> Response:
        user = self.store.sign_in(email)
        self.store.record_consent(user, auth.scopes)
        code = self.store.issue_code(
            user, auth.redirect_uri, auth.scopes, auth.nonce, auth.code_challenge
        )
        response = reply.redirect(code=code)
        if new_sign_in:
            session_id = self.store.sign_ins.open(user.email)
            response.set_cookie(SIGN_IN_COOKIE, session_id, httponly=True, samesite="lax")
        return response

    def _page(self, auth: AuthorizationRequest, email: str, error: str | None = None) -> Response:
        return pages.consent_page(
            app_name=self.options.app_name,
            requested=auth.scopes,
            hidden=list(auth.params.items()),
            email=email,
            email_locked=auth.login_hint is not None,
            error=error,
        )


def _collect(items: Iterable[tuple[str, object]]) -> tuple[dict[str, str], set[str]]:
    """The authorize parameters, and the names sent more than once (RFC 6749 §3.1 forbids it)."""
    params: dict[str, str] = {}
    repeated: set[str] = set()
    for name, value in items:
        if name not in PARAMETERS or not isinstance(value, str):
            continue
        if name in params:
            repeated.add(name)
        params[name] = value
    return params, repeated


def _trusted_redirect_uri(
    params: dict[str, str], repeated: set[str], options: SandboxOptions
) -> str:
    if "client_id" in repeated or params.get("client_id") != options.client_id:
        raise Untrusted("The client_id is missing or not registered at the sandbox.")
    redirect_uri = params.get("redirect_uri", "")
    if "redirect_uri" in repeated or redirect_uri not in options.redirect_uris:
        raise Untrusted("The redirect_uri is missing or not an exact match of a registered one.")
    return redirect_uri


def _read(
    params: dict[str, str], repeated: set[str], redirect_uri: str, options: SandboxOptions
) -> AuthorizationRequest:
    if repeated:
        raise Refused("invalid_request", f"Repeated parameters: {', '.join(sorted(repeated))}.")
    response_type = params.get("response_type")
    if not response_type:
        raise Refused("invalid_request", "response_type is required.")
    if response_type != "code":
        raise Refused("unsupported_response_type", "Only response_type=code is supported.")
    try:
        requested = scopes.parse(params.get("scope"), options.scope_separator)
    except scopes.UnknownScope as exc:
        raise Refused("invalid_scope", str(exc)) from exc
    max_age = params.get("max_age") or None
    if max_age is not None and not (max_age.isdigit() and len(max_age) <= 9):
        raise Refused("invalid_request", "max_age must be a number of seconds.")
    login_hint = params.get("login_hint") or None
    if login_hint is not None and not is_email(login_hint):
        raise Refused("invalid_request", "login_hint must be an email address.")
    return AuthorizationRequest(
        redirect_uri=redirect_uri,
        scopes=requested,
        nonce=params.get("nonce") or None,
        login_hint=login_hint.strip().lower() if login_hint else None,
        code_challenge=_code_challenge(params, required=options.client_authentication == "none"),
        params=params,
        max_age=int(max_age) if max_age is not None else None,
        login_prompt="login" in params.get("prompt", "").split(),
    )


def _code_challenge(params: dict[str, str], *, required: bool) -> str | None:
    """The S256 challenge; optional at Contio, ``required`` for a public client."""
    challenge = params.get("code_challenge") or None
    method = params.get("code_challenge_method") or None
    if challenge is None and method is None:
        if required:
            raise Refused("invalid_request", "A public client must use PKCE (code_challenge).")
        return None
    if method != "S256":
        raise Refused("invalid_request", "code_challenge_method must be S256.")
    if challenge is None or not pkce.is_valid_challenge(challenge):
        raise Refused("invalid_request", "code_challenge must be a base64url SHA-256 digest.")
    return challenge

"""A test's hands on a running sandbox: its HTTP client, its store, and the steps of the code flow."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import secrets
from dataclasses import dataclass
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from gateway_sandbox import SandboxOptions
from gateway_sandbox.state.store import SandboxStore

ALL_SCOPES = "openid profile meetings:read action-items:read calendar:read"
WRITE_SCOPES = (
    "openid profile meetings:read meetings:write action-items:read action-items:write "
    "calendar:read calendar:write"
)
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')
_EMAIL_INPUT = re.compile(r'<input[^>]*name="email"[^>]*>')


class FakeClock:
    """Unix seconds that only move when a test says so."""

    def __init__(self, now: float = 1_790_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass(frozen=True)
class Pkce:
    verifier: str
    challenge: str

    @classmethod
    def new(cls) -> Pkce:
        verifier = secrets.token_urlsafe(48)
        digest = hashlib.sha256(verifier.encode()).digest()
        return cls(verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode())


def query_of(response: httpx.Response) -> dict[str, str]:
    """The query parameters of a redirect's ``Location``."""
    return dict(httpx.URL(response.headers["location"]).params)


def hidden_fields(page: str) -> dict[str, str]:
    return {name: html.unescape(value) for name, value in _HIDDEN.findall(page)}


def email_input(page: str) -> str:
    """The consent page's ``<input name="email" ...>`` tag."""
    match = _EMAIL_INPUT.search(page)
    assert match is not None, "no email input on the page"
    return match.group(0)


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def verify_id_token(sandbox: Sandbox, id_token: str) -> dict[str, Any]:
    """The ID token's claims, after checking its RS256 signature against the sandbox's JWKS."""
    header_b64, payload_b64, signature_b64 = id_token.split(".")
    header = json.loads(_b64decode(header_b64))
    keys = sandbox.http.get("/.well-known/jwks.json").json()["keys"]
    (jwk,) = [key for key in keys if key["kid"] == header["kid"]]
    public_key = rsa.RSAPublicNumbers(
        int.from_bytes(_b64decode(jwk["e"])), int.from_bytes(_b64decode(jwk["n"]))
    ).public_key()
    assert header["alg"] == "RS256"
    public_key.verify(  # raises InvalidSignature
        _b64decode(signature_b64),
        f"{header_b64}.{payload_b64}".encode(),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )
    claims: dict[str, Any] = json.loads(_b64decode(payload_b64))
    return claims


class Sandbox:
    def __init__(self, http: httpx.Client, options: SandboxOptions, store: SandboxStore) -> None:
        self.http = http
        self.url = str(http.base_url).rstrip("/")
        self.options = options
        self.store = store
        self.client_auth = (options.client_id, options.client_secrets[0])

    def authorize_params(self, **overrides: str | None) -> dict[str, str]:
        params: dict[str, str | None] = {
            "client_id": self.options.client_id,
            "redirect_uri": self.options.redirect_uris[0],
            "response_type": "code",
            "scope": ALL_SCOPES,
            "state": "state-123",
            **overrides,
        }
        return {name: value for name, value in params.items() if value is not None}

    def authorize(self, **overrides: str | None) -> httpx.Response:
        return self.http.get("/oauth2/authorize", params=self.authorize_params(**overrides))

    def consent(
        self, email: str, decision: str = "approve", **overrides: str | None
    ) -> httpx.Response:
        page = self.authorize(**overrides)
        assert page.status_code == 200, page.text
        form = {**hidden_fields(page.text), "email": email, "decision": decision}
        return self.http.post("/oauth2/consent", data=form)

    def code_for(self, email: str, **overrides: str | None) -> str:
        response = self.consent(email, "approve", **overrides)
        assert response.status_code == 302, response.text
        return query_of(response)["code"]

    def token(self, data: dict[str, str], *, basic: bool = True) -> httpx.Response:
        if basic:
            return self.http.post("/oauth2/token", data=data, auth=self.client_auth)
        client_id, secret = self.client_auth
        return self.http.post(
            "/oauth2/token", data={**data, "client_id": client_id, "client_secret": secret}
        )

    def exchange(self, code: str, **extra: str) -> httpx.Response:
        data = {"grant_type": "authorization_code", "code": code, **extra}
        data.setdefault("redirect_uri", self.options.redirect_uris[0])
        return self.token(data)

    def tokens_for(self, email: str, scope: str = ALL_SCOPES) -> dict[str, Any]:
        response = self.exchange(self.code_for(email, scope=scope))
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def refresh(self, refresh_token: str) -> httpx.Response:
        return self.token({"grant_type": "refresh_token", "refresh_token": refresh_token})

    def admin(
        self, method: str, path: str, key: str | None = "sandbox-admin-key", **params: str
    ) -> httpx.Response:
        headers = {"X-API-Key": key} if key is not None else {}
        return self.http.request(method, f"/v1/partner/admin{path}", params=params, headers=headers)

    def api(self, path: str, access_token: str | None, **params: str) -> httpx.Response:
        headers = {"Authorization": f"Bearer {access_token}"} if access_token else {}
        return self.http.get(f"/v1/partner/user{path}", params=params, headers=headers)

    def call(
        self,
        method: str,
        path: str,
        access_token: str | None,
        body: Any = None,
        key: str | None = None,
    ) -> httpx.Response:
        """A user API request with a JSON body and, when ``key`` is given, an Idempotency-Key."""
        headers = {"Authorization": f"Bearer {access_token}"} if access_token else {}
        if key is not None:
            headers["Idempotency-Key"] = key
        return self.http.request(method, f"/v1/partner/user{path}", json=body, headers=headers)

    def writer(self, email: str = "ann@example.com") -> str:
        """An access token of ``email`` with every read and write scope of the user API.

        Issued through the store, not the consent page: setup for tests of the user API, which
        the OAuth tests cover over HTTP already."""
        user = self.store.sign_in(email)
        redirect_uri = self.options.redirect_uris[0]
        code = self.store.issue_code(user, redirect_uri, tuple(WRITE_SCOPES.split()), None, None)
        tokens = self.store.redeem_code(code, self.options.client_id, redirect_uri, None)
        return tokens.access_token.token

    # Partner-auth provisioning (reference §3)

    def initiate(self, email: str, **fields: Any) -> httpx.Response:
        body = {"client_id": self.options.client_id, "email": email, **fields}
        return self.http.post("/auth/initiate", json=body, auth=self.client_auth)

    def last_code(self, email: str) -> str:
        messages = self.http.get("/_sandbox/outbox", params={"email": email}).json()["messages"]
        assert messages, f"no code was sent to {email}"
        code: str = messages[-1]["code"]
        return code

    def verify(self, email: str, session: str, code: str) -> httpx.Response:
        body = {
            "client_id": self.options.client_id,
            "email": email,
            "code": code,
            "session": session,
        }
        return self.http.post("/auth/verify", json=body, auth=self.client_auth)

    def sign_in_headless(self, email: str, **fields: Any) -> None:
        """Initiate and verify with the code from the outbox: a live session for ``email``."""
        initiated = self.initiate(email, **fields)
        assert initiated.status_code == 200, initiated.text
        verified = self.verify(email, initiated.json()["session"], self.last_code(email))
        assert verified.status_code == 200, verified.text

    def authorize_headless(self, email: str, **overrides: Any) -> httpx.Response:
        body = {
            "client_id": self.options.client_id,
            "email": email,
            "consent": True,
            "redirect_uri": self.options.redirect_uris[0],
            "response_type": "code",
            "scope": WRITE_SCOPES,
            "state": "state-123",
            **overrides,
        }
        return self.http.post("/oauth2/authorize", json=body)

    def provisioned_tokens(self, email: str, **fields: Any) -> dict[str, Any]:
        """The whole headless flow with PKCE: initiate, verify, consent, exchange."""
        self.sign_in_headless(email, **fields)
        pkce = Pkce.new()
        consented = self.authorize_headless(
            email, code_challenge=pkce.challenge, code_challenge_method="S256"
        )
        assert consented.status_code == 200, consented.text
        response = self.exchange(consented.json()["code"], code_verifier=pkce.verifier)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

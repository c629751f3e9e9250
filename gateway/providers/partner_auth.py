"""Contio's partner-auth endpoints, behind a typed client.

    initiate   POST {auth}/auth/initiate     provision (or find) the user; a code is mailed to them
    verify     POST {auth}/auth/verify       the code opens the user's 30-minute session
    authorize  POST {auth}/oauth2/authorize  consent without a browser: an authorization code

Every request is one of the provider's OAuth requests (Contio counts ``/auth/*`` in the same 100 per
5 minutes) and goes through ``OAuthClient.post_json``, which authenticates the gateway's client and
spends the budget. Contio's answers are translated here; nothing beyond sees their shapes::

    NotFound    WorkspaceNotFound       404 workspace_not_found       Contio sends 400 or 404: by code
    Forbidden   WorkspaceNotAuthorized  403 workspace_not_authorized
    Conflict    WorkspaceConflict       409 workspace_conflict        details.workspace_id
    BadRequest  InvalidCode             400 invalid_code              details.attempts_remaining
    BadRequest  ProviderRefusedRequest  400 provider_refused_request  the provider found a field bad
    BadRequest  PartnerAuthUnsupported  400 provisioning_unsupported  not a partner-auth provider
    Gone        CodeExpired             410 code_expired
    Gone        SessionExpired          410 session_expired

and, as for the other OAuth endpoints, ProviderUnavailable (503: network, 429, 5xx) or another
ProviderError (502). Messages never carry the code, the session or the authorization code.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

import httpx
from pydantic import SecretStr

from gateway.exceptions import BadRequest, Conflict, Forbidden, Gone, NotFound
from gateway.providers.client import OAuthClient
from gateway.providers.contio import CONTIO
from gateway.providers.errors import (
    ProviderError,
    error_from_response,
    json_body,
    oauth_error_fields,
)
from gateway.providers.spender import Spender

log = logging.getLogger(__name__)

AUTHORIZE_PATH = "/oauth2/authorize"
# Contio's SDK derives these from the authorize URL the same way.
INITIATE_PATH = "/auth/initiate"
VERIFY_PATH = "/auth/verify"
SUPPORTED = frozenset({CONTIO})


class WorkspaceNotFound(NotFound):
    """Raised when ``workspace_id`` names no workspace at the provider."""

    code = "workspace_not_found"


class WorkspaceNotAuthorized(Forbidden):
    """Raised when the workspace belongs to another partner app."""

    code = "workspace_not_authorized"


class WorkspaceConflict(Conflict):
    """Raised when the user already belongs to another workspace (``details.workspace_id``)."""

    code = "workspace_conflict"


class InvalidCode(BadRequest):
    """Raised when the one-time code is wrong; ``reason`` is the provider's, when it says one."""

    code = "invalid_code"

    def __init__(
        self, message: str, *, attempts_remaining: int | None, reason: str | None = None
    ) -> None:
        details = (
            {"attempts_remaining": attempts_remaining} if attempts_remaining is not None else None
        )
        super().__init__(message, details=details)
        self.attempts_remaining = attempts_remaining
        self.reason = reason


class ProviderRefusedRequest(BadRequest):
    """Raised when the provider finds a field of the request invalid (an email it does not take)."""

    code = "provider_refused_request"


class PartnerAuthUnsupported(BadRequest):
    """Raised when the named provider has no partner-auth provisioning."""

    code = "provisioning_unsupported"


class CodeExpired(Gone):
    """Raised when the one-time code has expired (or the provider forgot its challenge)."""

    code = "code_expired"


class SessionExpired(Gone):
    """Raised when the session a verified code opened has run out: the user must start again."""

    code = "session_expired"


@dataclass(frozen=True)
class Challenge:
    """What ``/auth/initiate`` answered: the session naming the mailed code, and whether the user
    was newly created."""

    session: SecretStr
    user_provisioned: bool


@dataclass(frozen=True)
class AuthorizationCode:
    """A code from the headless authorize, with the ``state`` and ``iss`` that came with it."""

    code: SecretStr
    state: str | None
    issuer: str | None


class PartnerAuth:
    """One provider's partner-auth endpoints, spoken through its ``OAuthClient`` for ``spender``
    (whose share of the budget every request spends)."""

    def __init__(self, client: OAuthClient, spender: Spender) -> None:
        if client.name not in SUPPORTED:
            raise PartnerAuthUnsupported(
                f"provider {client.name!r} does not offer partner-auth provisioning",
                details={"provider": client.name},
            )
        self.client = client
        self.spender = spender

    @property
    def name(self) -> str:
        return self.client.name

    async def initiate(
        self, *, email: str, name: str | None, workspace_id: str | None, is_admin: bool | None
    ) -> Challenge:
        body: dict[str, object] = {"email": email}
        if name:
            body["name"] = name
        if workspace_id is not None:
            body["workspace_id"] = workspace_id
        if is_admin is not None:
            body["is_admin"] = is_admin
        response = await self._post(INITIATE_PATH, body, "partner-auth initiate")
        if not response.is_success:
            raise self._initiate_error(response)
        answer = json_body(response)
        session = answer.get("session") if isinstance(answer, dict) else None
        provisioned = answer.get("user_provisioned") if isinstance(answer, dict) else None
        if not isinstance(session, str) or not session or not isinstance(provisioned, bool):
            raise self._malformed("partner-auth initiate", response)
        return Challenge(SecretStr(session), provisioned)

    async def verify(self, *, email: str, code: str, session: str) -> None:
        body = {"email": email, "code": code, "session": session}
        response = await self._post(VERIFY_PATH, body, "partner-auth verify")
        if not response.is_success:
            raise self._verify_error(response)

    async def authorize(
        self,
        *,
        email: str,
        redirect_uri: str,
        scopes: tuple[str, ...],
        state: str,
        code_challenge: str,
    ) -> AuthorizationCode:
        """Consent for the user signed in by ``verify``, with PKCE (S256) and ``state``."""
        body: dict[str, object] = {
            "email": email,
            "consent": True,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": " ".join(scopes),
            "state": state,
            "code_challenge": code_challenge,
            "code_challenge_method": "S256",
        }
        what = "headless authorize"
        response = await self._post(AUTHORIZE_PATH, body, what)
        if not response.is_success:
            raise self._authorize_error(response)
        answer = json_body(response)
        if not isinstance(answer, dict):
            raise self._malformed(what, response)
        code, echoed = answer.get("code"), answer.get("state")
        if not isinstance(code, str) or not code:
            raise ProviderError(
                f"{self.name} {what} gave no authorization code", provider=self.name
            )
        redirect = answer.get("redirect_url")
        issuer = _query(redirect).get("iss") if isinstance(redirect, str) else None
        return AuthorizationCode(
            SecretStr(code), echoed if isinstance(echoed, str) else None, issuer
        )

    async def _post(self, path: str, body: Mapping[str, object], what: str) -> httpx.Response:
        config = await self.client.load_config()
        base, found, _ = config.authorize_url.rpartition(AUTHORIZE_PATH)
        if not found:
            raise PartnerAuthUnsupported(
                f"{self.name}'s authorize URL does not end in {AUTHORIZE_PATH}",
                details={"provider": self.name},
            )
        return await self.client.post_json(base + path, body, what, spender=self.spender)

    def _initiate_error(self, response: httpx.Response) -> Exception:
        code, message, body = self._fields(response)
        if code == "workspace_not_found":
            return WorkspaceNotFound("The provider has no workspace with this workspace_id.")
        if code == "workspace_not_authorized":
            return WorkspaceNotAuthorized(
                "The workspace belongs to another partner app; it cannot be joined."
            )
        if code == "workspace_conflict":
            current = body.get("workspace_id")
            return WorkspaceConflict(
                "The user already belongs to another workspace.",
                details={"workspace_id": current} if isinstance(current, str) else None,
            )
        if response.status_code == 400 and code in ("invalid_request", "validation_error"):
            return ProviderRefusedRequest(
                f"{self.name} refused the request: {message or code}",
                details={"provider": self.name},
            )
        return error_from_response(self.name, "partner-auth initiate", response)

    def _verify_error(self, response: httpx.Response) -> Exception:
        code, _message, body = self._fields(response)
        if code == "invalid_code":
            reason = body.get("reason")
            if reason == "expired":
                return CodeExpired("The code has expired; start the provisioning again.")
            remaining = body.get("attempts_remaining")
            return InvalidCode(
                "The code is not correct.",
                attempts_remaining=remaining if isinstance(remaining, int) else None,
                reason=reason if isinstance(reason, str) else None,
            )
        if code == "code_expired":
            return CodeExpired("The code has expired; start the provisioning again.")
        if code == "session_expired":
            return SessionExpired("The sign-in has expired; start the provisioning again.")
        if response.status_code == 400 and code == "invalid_request":
            # The provider no longer knows the challenge we hold: nothing but a new one can help.
            log.warning("%s partner-auth verify: the challenge is unknown to it", self.name)
            return CodeExpired("The provider no longer knows this code; start again.")
        return error_from_response(self.name, "partner-auth verify", response)

    def _authorize_error(self, response: httpx.Response) -> Exception:
        code, _message, _body = self._fields(response)
        if code == "session_expired" or (response.status_code == 401 and code == "unauthorized"):
            # ``unauthorized``: the provider holds no signed-in session for the user any more.
            return SessionExpired("The sign-in has expired; start the provisioning again.")
        return error_from_response(self.name, "headless authorize", response)

    @staticmethod
    def _fields(response: httpx.Response) -> tuple[str | None, str | None, dict[str, object]]:
        """The error's machine code, its message and the whole body. The partner API puts the code
        in ``code`` and prose in ``error``, so ``code`` wins; OAuth's shape is the fallback."""
        body = json_body(response)
        code, message = oauth_error_fields(body)
        fields = body if isinstance(body, dict) else {}
        if isinstance(fields.get("code"), str):
            code = str(fields["code"])
        return code, message, fields

    def _malformed(self, what: str, response: httpx.Response) -> ProviderError:
        return ProviderError(
            f"{self.name} {what} answered with an unexpected body",
            provider=self.name,
            upstream_status=response.status_code,
        )


def _query(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))

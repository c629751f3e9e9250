"""Errors raised at the OAuth boundary, and how an upstream response is classified into one.

Nothing outside ``gateway.providers`` sees an httpx exception or a provider's raw error body; each
failure becomes one of these (see ``gateway.exceptions`` for the rest of the tree)::

    UpstreamError                     502
     +-- ProviderError                502 provider_error            any other failure of the provider
          +-- GrantRejected           502 grant_rejected            the user's grant is bad (invalid_grant)
          +-- ClientRejected          502 provider_client_rejected  the gateway's own client is refused
          +-- ProviderUnavailable     503 provider_unavailable      transient: network, timeout, 5xx, 429
          +-- InvalidIdToken          502 invalid_id_token          an ID token failed validation
          +-- IssuerMismatch          502 issuer_mismatch           a callback named another issuer
    BadRequest                        400
     +-- ProviderNotFound             400 unknown_provider          no provider of that name
     +-- GrantNotSupported            400 grant_not_supported       a grant the gateway refuses (the
                                                                    password grant) or the provider
                                                                    does not offer
          +-- ProviderNotConfigured   400 provider_not_configured   a stored connection's provider is
                                                                    not configured (revocation)

Messages name the provider, the HTTP status and the provider's own ``error``/``error_description``
(truncated); they never carry a token, code, verifier or secret.
"""

from __future__ import annotations

import math
import re
import time
from email.utils import parsedate_to_datetime

import httpx

from gateway.exceptions import BadRequest, UpstreamError

DESCRIPTION_LIMIT = 200

# RFC 6749 error codes are short ASCII words; anything else in ``error`` is prose (Contio's API
# errors put the message there and the code in ``code``).
_ERROR_CODE = re.compile(r"[A-Za-z0-9_.:\-]{1,64}")
_UNPRINTABLE = re.compile(r"[^\x20-\x7e]+")

CLIENT_ERRORS = frozenset({"invalid_client", "unauthorized_client"})


class ProviderError(UpstreamError):
    """Raised when the provider answers with an error, or with something that is not OAuth."""

    code = "provider_error"

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        oauth_error: str | None = None,
        upstream_status: int | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        details: dict[str, object] = {"provider": provider}
        if oauth_error is not None:
            details["oauth_error"] = oauth_error
        if upstream_status is not None:
            details["upstream_status"] = upstream_status
        super().__init__(message, code=code, details=details, headers=headers)
        self.provider = provider
        self.oauth_error = oauth_error
        self.upstream_status = upstream_status


class GrantRejected(ProviderError):
    """Raised when the user's grant is refused: bad, expired or used code; revoked refresh token."""

    code = "grant_rejected"


class ClientRejected(ProviderError):
    """Raised when the provider refuses the gateway's own client (credentials, registration)."""

    code = "provider_client_rejected"


class ProviderUnavailable(ProviderError):
    """Raised when the provider cannot be reached or asks us to come back later."""

    status_code = 503
    code = "provider_unavailable"

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        retry_after: float | None = None,
        oauth_error: str | None = None,
        upstream_status: int | None = None,
    ) -> None:
        headers = {"Retry-After": str(math.ceil(retry_after))} if retry_after is not None else None
        super().__init__(
            message,
            provider=provider,
            oauth_error=oauth_error,
            upstream_status=upstream_status,
            headers=headers,
        )
        self.retry_after = retry_after


class InvalidIdToken(ProviderError):
    """Raised when an ID token fails validation (signature, iss, aud, exp, nonce)."""

    code = "invalid_id_token"


class IssuerMismatch(ProviderError):
    """Raised when an authorization response names an issuer other than the provider's (RFC 9207)."""

    code = "issuer_mismatch"


class GrantNotSupported(BadRequest):
    """Raised when a grant is asked for that the gateway refuses or the provider does not offer."""

    code = "grant_not_supported"


class ProviderNotFound(BadRequest):
    """Raised when no provider of the requested name is configured."""

    code = "unknown_provider"

    def __init__(self, message: str, *, name: str | None) -> None:
        super().__init__(message, details={"provider": name} if name else None)
        self.name = name


class ProviderNotConfigured(ProviderNotFound):
    """Raised when work on a stored connection (revoking its tokens upstream) needs its provider,
    which this gateway's configuration does not have (any more, or in this shell)."""

    code = "provider_not_configured"

    @classmethod
    def of(cls, missing: ProviderNotFound) -> ProviderNotConfigured:
        return cls(
            f"{missing.message}; the provider was not asked, and is asked again once it is "
            "configured",
            name=missing.name,
        )


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delay-seconds or an HTTP date; else None."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:  # an HTTP date is always GMT, even when it fails to say so
        return None
    current = time.time() if now is None else now
    return max(0.0, moment.timestamp() - current)


def clip(text: str) -> str:
    text = _UNPRINTABLE.sub(" ", text).strip()
    if len(text) > DESCRIPTION_LIMIT:
        return text[: DESCRIPTION_LIMIT - 1] + "…"
    return text


def oauth_error_fields(body: object) -> tuple[str | None, str | None]:
    """The error code and description of an error body, in RFC 6749 or Contio's ``{code, message}``."""
    if not isinstance(body, dict):
        return None, None
    error, code = body.get("error"), body.get("code")
    description = body.get("error_description") or body.get("message")
    oauth_error: str | None = None
    if isinstance(error, str) and _ERROR_CODE.fullmatch(error):
        oauth_error = error
    elif isinstance(code, str) and _ERROR_CODE.fullmatch(code):
        oauth_error = code
        if isinstance(error, str) and not description:
            description = error
    return oauth_error, clip(description) if isinstance(description, str) else None


def json_body(response: httpx.Response) -> object:
    """The response's JSON, or None when the body is not JSON at all."""
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError):
        return None


def describe(
    provider: str, what: str, status: int, error: str | None, description: str | None
) -> str:
    message = f"{provider} {what} failed with HTTP {status}"
    if error:
        message += f": {error}"
    if description:
        message += f" ({description})"
    return message


def unavailable_from_response(
    provider: str, what: str, response: httpx.Response
) -> ProviderUnavailable:
    error, description = oauth_error_fields(json_body(response))
    return ProviderUnavailable(
        describe(provider, what, response.status_code, error, description),
        provider=provider,
        retry_after=parse_retry_after(response.headers.get("Retry-After")),
        oauth_error=error,
        upstream_status=response.status_code,
    )


def error_from_response(provider: str, what: str, response: httpx.Response) -> ProviderError:
    """Classify a failed response of an endpoint that authenticates the gateway's client.

    ``what`` names the endpoint for the message ("code exchange", "revocation").
    """
    status = response.status_code
    if status == 429 or status >= 500:
        return unavailable_from_response(provider, what, response)
    body = json_body(response)
    error, description = oauth_error_fields(body)
    message = describe(provider, what, status, error, description)
    kind: type[ProviderError] = ProviderError
    if error == "invalid_grant":
        kind = GrantRejected
    elif error in CLIENT_ERRORS:
        kind = ClientRejected
    elif 400 <= status < 500 and (not isinstance(body, dict) or (error is None and status == 401)):
        # A firewall or proxy page, or a bare 401: the request never reached OAuth as a valid client.
        kind = ClientRejected
        message += "; the response was not an OAuth error"
    return kind(message, provider=provider, oauth_error=error, upstream_status=status)


def bearer_error_from_response(provider: str, what: str, response: httpx.Response) -> ProviderError:
    """Classify a failed response of an endpoint called with the user's access token (RFC 6750)."""
    status = response.status_code
    if status == 429 or status >= 500:
        return unavailable_from_response(provider, what, response)
    error, description = oauth_error_fields(json_body(response))
    challenge = response.headers.get("WWW-Authenticate", "")
    if error is None and (match := re.search(r'error="([^"]+)"', challenge)):
        error = match.group(1)
    message = describe(provider, what, status, error, description)
    if status == 401 or error == "invalid_token":
        return GrantRejected(
            message, provider=provider, oauth_error=error or "invalid_token", upstream_status=status
        )
    return ProviderError(message, provider=provider, oauth_error=error, upstream_status=status)


def transport_error(provider: str, what: str, exc: httpx.HTTPError) -> ProviderUnavailable:
    """Translate an httpx failure without echoing it: its text may quote a URL."""
    reason = "timed out" if isinstance(exc, httpx.TimeoutException) else "network error"
    return ProviderUnavailable(
        f"{provider} {what} failed: {reason} ({type(exc).__name__})", provider=provider
    )

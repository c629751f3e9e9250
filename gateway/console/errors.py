"""The console's own errors, in the gateway's error tree (rendered as pages, not JSON)."""

from __future__ import annotations

from gateway.exceptions import BadRequest, Forbidden, NotFound


class CsrfRejected(Forbidden):
    """Raised when a form comes without the CSRF token of the operator's session."""

    code = "csrf_rejected"


class SignInNotStarted(BadRequest):
    """Raised when the identity provider sends back a sign-in this browser did not start here, or
    started too long ago."""

    code = "sso_sign_in_expired"


class SignInRefused(Forbidden):
    """Raised when a sign-in at the identity provider does not let the operator in: the provider
    refused it, its answer failed validation, or the operator's claims give no console role."""

    code = "sso_sign_in_refused"


class SignInMethodOff(NotFound):
    """Raised when a sign-in method is not offered (single sign-on not configured, or the admin-key
    sign-in turned off)."""

    code = "sign_in_method_off"

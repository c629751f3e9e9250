"""The console's own errors, in the gateway's error tree (rendered as pages, not JSON)."""

from __future__ import annotations

from gateway.exceptions import Forbidden


class CsrfRejected(Forbidden):
    """Raised when a form comes without the CSRF token of the operator's session."""

    code = "csrf_rejected"

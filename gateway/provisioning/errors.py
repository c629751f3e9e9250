"""Why a provisioning request is refused, in the gateway's error tree.

The provider's own refusals (workspace_*, invalid_code, code_expired, session_expired) are drawn in
``gateway.providers.partner_auth``; these are the gateway's::

    NotFound              ProvisioningNotFound     404 provisioning_not_found
    Conflict              ProvisioningFailed       409 provisioning_failed      closed: start again
    Conflict              ProvisioningInProgress   409 provisioning_in_progress  another verify runs
    Conflict              IdempotencyInFlight      409 idempotency_in_flight     the first is running
    UnprocessableContent  IdempotencyKeyReused     422 idempotency_key_reused    another body
    BadRequest            InvalidIdempotencyKey    400 invalid_idempotency_key
"""

from __future__ import annotations

import math

from gateway.exceptions import BadRequest, Conflict, NotFound, UnprocessableContent


def _retry_after(seconds: float) -> dict[str, str]:
    return {"Retry-After": str(max(1, math.ceil(seconds)))}


class ProvisioningNotFound(NotFound):
    """Raised when no provisioning has this id for the caller (another client's included)."""

    code = "provisioning_not_found"

    def __init__(self) -> None:
        super().__init__("No provisioning has this id.")


class ProvisioningFailed(Conflict):
    """Raised when the provisioning was closed (too many wrong codes): start a new one."""

    code = "provisioning_failed"


class ProvisioningInProgress(Conflict):
    """Raised when another verify of the same provisioning is still running."""

    code = "provisioning_in_progress"

    def __init__(self, retry_after: float) -> None:
        super().__init__(
            "Another verify of this provisioning is in progress; try again shortly.",
            headers=_retry_after(retry_after),
        )


class IdempotencyInFlight(Conflict):
    """Raised when the first request with this Idempotency-Key has not answered yet."""

    code = "idempotency_in_flight"

    def __init__(self, retry_after: float) -> None:
        super().__init__(
            "A request with this Idempotency-Key is still in progress; try again shortly.",
            headers=_retry_after(retry_after),
        )


class IdempotencyKeyReused(UnprocessableContent):
    """Raised when an Idempotency-Key comes back with a different request body."""

    code = "idempotency_key_reused"

    def __init__(self) -> None:
        super().__init__(
            "This Idempotency-Key was used with a different request body; use a new key."
        )


class InvalidIdempotencyKey(BadRequest):
    """Raised when the Idempotency-Key header is empty, too long or not printable ASCII."""

    code = "invalid_idempotency_key"

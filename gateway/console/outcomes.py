"""What an action just did, shown at the top of the connection's page.

Actions answer with a redirect to the connection's page (POST-redirect-GET: a reload does not act
again), their outcome in its query parameters: a revocation's in ``revoked``, ``method``, ``kept``
and ``reason``; the other actions' in ``done`` (and, for an edit, ``fields``). The page reads them
back strictly: a malformed outcome is a 400, never text of the URL's shown as is.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from urllib.parse import urlencode

from starlette.datastructures import QueryParams

from gateway.connections.revocation import Revocation
from gateway.connections.views import UPSTREAM_METHOD_TEXT
from gateway.exceptions import BadRequest, GatewayError
from gateway.kit import query

LIST = "/console/connections"


@dataclass(frozen=True)
class Outcome:
    """What an action just did."""

    ok: bool
    action: str
    message: str
    upstream: str | None = None


def refused(action: str, what: str, exc: GatewayError) -> Outcome:
    """A refusal in the gateway's words: ``<what> (<code>): <field>: <problem>; ...``, or its
    message when it names no field; then the provider's reason when it gave one (a refused
    credential's, cut short and with any echo of the secret starred by ``credential_profile``)."""
    details = exc.details or {}
    problems = details.get("errors") or []
    listed = "; ".join(f"{p['field']}: {p['problem']}" for p in problems if isinstance(p, dict))
    reason = details.get("reason")
    said = f". The provider said: {reason}" if isinstance(reason, str) and reason else ""
    return Outcome(False, action, f"{what} ({exc.code}): {listed or exc.message}{said}")


REVOKED_PARAMETERS = ("revoked", "method", "kept", "reason")
DONE_PARAMETERS = ("done", "fields")
PARAMETERS = (*REVOKED_PARAMETERS, *DONE_PARAMETERS)
UPSTREAM_STATES = ("done", "pending", "not_possible")
REASON = re.compile(r"[a-z_]{1,64}")
UPSTREAM = {
    "done": "The provider confirmed the revocation.",
    "not_possible": (
        "The provider was not asked: the tokens do not open with the gateway's keys "
        "(credentials_unreadable). Revoke the grant in the provider's console."
    ),
}
PENDING = {
    None: "The revocation at the provider is still pending; the gateway keeps retrying it there "
    "in the background.",
    "provider_unavailable": "The provider could not be reached; the gateway keeps retrying the "
    "revocation there in the background.",
    "provider_not_configured": "The provider is not configured in this gateway, so it was not "
    "asked (provider_not_configured); the gateway retries once it is configured.",
}
DONE = {
    "paused": (
        "Paused: the proxy refuses this connection (409 connection_disabled). The gateway keeps "
        "refreshing it, so Resume brings it back without the user."
    ),
    "resumed": "Resumed: the proxy serves this connection again.",
    "updated": "Saved.",
    "unchanged": "Nothing to save: the form held the connection's current values.",
    "made_default": (
        "This is now the user's default connection for the provider: /proxy/users/... uses it."
    ),
    "key_revoked": "Delegated key revoked: every replica refuses it from now on.",
    "created": (
        "Created: the provider took the credential or issued the token; it is kept sealed and "
        "never shown."
    ),
    "credential_replaced": (
        "The provider took the new credential: the user's default connection holds it now, and "
        "the old one is erased."
    ),
}
# The fields an edit may change (``updating.ConnectionPatch``), as ``fields`` names them.
FIELDS = ("enabled", "external_ids", "is_default", "labels", "metadata")


def connection_url(connection_id: uuid.UUID, **params: str) -> str:
    return f"{LIST}/{connection_id}" + (f"?{urlencode(params)}" if params else "")


def revoked_url(connection_id: uuid.UUID, revocation: Revocation) -> str:
    plan = revocation.plan
    params = {
        "revoked": revocation.upstream,
        "method": plan.upstream,
        "kept": str(sum(other not in plan.ended for other in plan.sharing)),
    }
    if revocation.upstream_error is not None:
        params["reason"] = revocation.upstream_error.code
    return connection_url(connection_id, **params)


def done_url(connection_id: uuid.UUID, done: str, fields: list[str] | None = None) -> str:
    assert done in DONE
    extra = {"fields": ",".join(fields)} if fields else {}
    return connection_url(connection_id, done=done, **extra)


def outcome_of(params: QueryParams) -> Outcome | None:
    """The outcome a redirect carries, if it does."""
    if "done" in params:
        return _done(params)
    return _revoked(params)


def _done(params: QueryParams) -> Outcome:
    done = query.choice(params, "done", tuple(DONE))
    assert done is not None
    fields = params.get("fields", "").split(",") if params.get("fields") else []
    if any(field not in FIELDS for field in fields) or len(fields) > len(FIELDS):
        raise BadRequest("a malformed outcome", code="invalid_outcome")
    message = DONE[done]
    if fields:
        message = f"Saved: {', '.join(field.replace('_', ' ') for field in fields)} changed."
    return Outcome(ok=True, action=done, message=message)


def _revoked(params: QueryParams) -> Outcome | None:
    upstream = query.choice(params, "revoked", UPSTREAM_STATES)
    if upstream is None:
        return None
    method = query.choice(params, "method", tuple(UPSTREAM_METHOD_TEXT)) or "none"
    kept = params.get("kept", "0")
    reason = params.get("reason")
    if not kept.isdigit() or len(kept) > 6 or (reason and not REASON.fullmatch(reason)):
        raise BadRequest("a malformed revocation outcome", code="invalid_outcome")
    stays = f" {kept} other connection(s) of the same account stay connected." if int(kept) else ""
    if upstream == "pending":
        told = PENDING.get(reason) or (
            f"The provider did not revoke the tokens ({reason}); the gateway keeps retrying the "
            "revocation there in the background."
        )
    else:
        told = UPSTREAM[upstream]
    return Outcome(
        ok=True,
        action="revoked",
        message=(
            f"Connection revoked and its tokens erased; revoked at the provider: "
            f"{UPSTREAM_METHOD_TEXT[method]}.{stays} {told}"
        ),
        upstream=upstream,
    )

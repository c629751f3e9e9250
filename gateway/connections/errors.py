"""What can go wrong when a connection is looked up, created, owned or moved, in the gateway's error
tree (why its grant cannot be used is ``tokens.errors``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.exceptions import BadRequest, Conflict, Forbidden, NotFound


class ConnectionNotFound(NotFound):
    """Raised when no connection has the given id (a malformed id included)."""

    code = "connection_not_found"


class ConnectionConflict(Conflict):
    """Raised when another flow created, or made default, a connection of the same (user, provider,
    space) at the same moment; nothing of this flow is stored, and trying again sees what it did."""

    code = "connection_conflict"


class IdentityMismatch(Conflict):
    """Raised when a re-connect signs in as a different provider account than the one on record."""

    code = "identity_mismatch"


class ConnectionOwnedByOtherClient(Conflict):
    """Raised when a client would change a connection another client (or ``operator``) owns."""

    code = "connection_owned_by_other_client"


class UserNotAllowed(Forbidden):
    """Raised when a client's ``user_pattern`` does not admit the user id it acts for."""

    code = "user_not_allowed"


class TransferConflict(Conflict):
    """Raised when the target's space already holds a connection for the user and provider."""

    code = "transfer_conflict"


class NotConnectionOwner(Forbidden):
    """Raised when a client that may see a connection would change it without owning it."""

    code = "not_connection_owner"


class ExternalIdTaken(Conflict):
    """Raised when another connection of the same owner and provider already has an external id."""

    code = "external_id_taken"


class TooManyLabels(BadRequest):
    """Raised when a change would leave a connection with more labels than it may have."""

    code = "too_many_labels"


class MetadataTooLarge(BadRequest):
    """Raised when a change would leave a connection's metadata larger than it may be."""

    code = "metadata_too_large"


class TimelineEntryNotFound(NotFound):
    """Raised when a connection's timeline has no entry with the given id (a malformed id included)."""

    code = "timeline_entry_not_found"


class DuplicateAccount(Conflict):
    """Raised when a flow would connect a provider account a user already has connected in the
    space (``details.connection_id`` names that connection), and did not say it may."""

    code = "duplicate_account"


class AdditionalConnectionsUnavailable(Conflict):
    """Raised when an additional connection is asked for while the schema's contract step is still
    pending (the one-connection-per-space constraint stands); nothing is stored."""

    code = "additional_connections_unavailable"

    def __init__(self, *, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(
            "additional connections are not available until the gateway's rollout is finished: "
            "an operator runs `gateway migrate --contract`",
            details=details,
        )


class NothingToRefresh(Conflict):
    """Raised when a refresh is asked of a stored-credential connection, which has no grant to
    refresh (its operator supplies a new credential instead)."""

    code = "nothing_to_refresh"


class DefaultNotAllowed(Conflict):
    """Raised when an app-level connection (client credentials) would become a user's default."""

    code = "default_not_allowed"


class SettingsOperatorOnly(Forbidden):
    """Raised when a service client tries to set a connection's settings (an operator's only)."""

    code = "settings_operator_only"


class NothingToVerify(Conflict):
    """Raised when a connection's credential cannot be checked: its provider's profile has no
    verification request (the credential was stored unchecked)."""

    code = "nothing_to_verify"

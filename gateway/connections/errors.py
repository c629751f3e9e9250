"""What can go wrong when a connection is looked up, created, owned or moved, in the gateway's error
tree (why its grant cannot be used is ``tokens.errors``)."""

from __future__ import annotations

from gateway.exceptions import BadRequest, Conflict, Forbidden, NotFound


class ConnectionNotFound(NotFound):
    """Raised when no connection has the given id (a malformed id included)."""

    code = "connection_not_found"


class ConnectionConflict(Conflict):
    """Raised when another flow created the same connection (user, provider, space) at the same
    moment; nothing of this flow is stored, and trying again finds that connection."""

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

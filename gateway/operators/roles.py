"""The operators' roles and what each may do, decided in one table for the admin API and the console.

Roles are ordered, each holding every permission of the ones below it:

- ``viewer``: reads connections, audit entries and event metadata (never a forwarded provider
  event's payload, which carries users' data);
- ``support``: also refreshes, pauses and resumes connections, reads and re-sends events;
- ``operator``: also creates, changes and revokes connections, and manages service clients and
  their subscriptions;
- ``security``: also the encryption keys and the break-glass sign-in's status.

An admin key carries its role as a scope of the same name; the ``admin`` scope of keys made before
roles existed is ``security``, so they keep every power they had. The CLI, which works with the
database's own credentials, is the superuser path and is not decided here.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping


class Role(enum.IntEnum):
    VIEWER = 1
    SUPPORT = 2
    OPERATOR = 3
    SECURITY = 4

    @property
    def label(self) -> str:
        """The role's name as scopes, settings and pages write it (``viewer``...)."""
        return self.name.lower()

    @classmethod
    def named(cls, label: str) -> Role | None:
        """The role called ``label`` (``viewer``...), or None."""
        return _BY_LABEL.get(label)


_BY_LABEL: Mapping[str, Role] = {role.label: role for role in Role}


class Permission(enum.Enum):
    READ_CONNECTIONS = "read_connections"
    READ_AUDIT = "read_audit"
    READ_EVENT_METADATA = "read_event_metadata"
    REFRESH_CONNECTIONS = "refresh_connections"
    PAUSE_CONNECTIONS = "pause_connections"
    READ_EVENT_PAYLOADS = "read_event_payloads"
    RESEND_EVENTS = "resend_events"
    MANAGE_CONNECTIONS = "manage_connections"
    REVOKE_CONNECTIONS = "revoke_connections"
    MANAGE_CLIENTS = "manage_clients"
    MANAGE_SUBSCRIPTIONS = "manage_subscriptions"
    MANAGE_KEYS = "manage_keys"
    READ_SECURITY_SETTINGS = "read_security_settings"


# The least role holding each permission: the one table every check reads.
LEAST_ROLE: Mapping[Permission, Role] = {
    Permission.READ_CONNECTIONS: Role.VIEWER,
    Permission.READ_AUDIT: Role.VIEWER,
    Permission.READ_EVENT_METADATA: Role.VIEWER,
    Permission.REFRESH_CONNECTIONS: Role.SUPPORT,
    Permission.PAUSE_CONNECTIONS: Role.SUPPORT,
    Permission.READ_EVENT_PAYLOADS: Role.SUPPORT,
    Permission.RESEND_EVENTS: Role.SUPPORT,
    Permission.MANAGE_CONNECTIONS: Role.OPERATOR,
    Permission.REVOKE_CONNECTIONS: Role.OPERATOR,
    Permission.MANAGE_CLIENTS: Role.OPERATOR,
    Permission.MANAGE_SUBSCRIPTIONS: Role.OPERATOR,
    Permission.MANAGE_KEYS: Role.SECURITY,
    Permission.READ_SECURITY_SETTINGS: Role.SECURITY,
}

# ``admin``: the one operator scope before roles, every power it had.
LEGACY_ADMIN_SCOPE = "admin"
ROLE_SCOPES: frozenset[str] = frozenset(role.label for role in Role)


def permits(role: Role | None, permission: Permission) -> bool:
    """Whether ``role`` (None: no operator role at all) holds ``permission``."""
    return role is not None and role >= LEAST_ROLE[permission]


def permissions(role: Role | None) -> frozenset[Permission]:
    """Every permission ``role`` holds (for pages that show or hide what a role can do)."""
    return frozenset(p for p in Permission if permits(role, p))


def role_of_scopes(scopes: Iterable[str]) -> Role | None:
    """The role an admin key's scopes give it: the highest role named, ``admin`` counting as
    ``security``; None for a key with no operator scope."""
    found = [Role.SECURITY if s == LEGACY_ADMIN_SCOPE else Role.named(s) for s in scopes]
    held = [role for role in found if role is not None]
    return max(held) if held else None

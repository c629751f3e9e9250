"""Which users, and which connections, a service client may act for.

By default any user. ``own_users_only`` confines a client to a space of connections of its own
(``gateway.connections.ownership``); ``user_pattern`` to user ids matching a regular expression (the
whole id must match). Both may be set: then both must hold. Confinement is how one internal service
is kept from acting for another's users; unconfined clients share their users' connections.
It lives in the kit, below every domain, because both the admin API and the routing of outbound
events (which the domains call) apply the same rule (``may_use``).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field

MAX_PATTERN_LENGTH = 200


class PatternError(ValueError):
    """Raised when a user pattern is not a usable regular expression."""


def compile_pattern(pattern: str) -> re.Pattern[str]:
    if not pattern or len(pattern) > MAX_PATTERN_LENGTH:
        raise PatternError(f"the user pattern must be 1-{MAX_PATTERN_LENGTH} characters")
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise PatternError(
            f"the user pattern {pattern!r} is not a regular expression: {exc}"
        ) from exc


@dataclass(frozen=True)
class UserNamespace:
    own_users_only: bool = False
    user_pattern: str | None = None
    _compiled: re.Pattern[str] | None = field(default=None, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.user_pattern is not None:
            object.__setattr__(self, "_compiled", compile_pattern(self.user_pattern))

    @property
    def unrestricted(self) -> bool:
        return not self.own_users_only and self.user_pattern is None

    def admits_user_id(self, user_id: str) -> bool:
        """Whether the id itself is in the namespace (checked before anything is looked up)."""
        return self._compiled is None or self._compiled.fullmatch(user_id) is not None

    def space(self, client_id: uuid.UUID) -> uuid.UUID | None:
        """The space of the client's connections: its own when confined, else the shared one."""
        return client_id if self.own_users_only else None


def may_use(
    space: uuid.UUID | None,
    namespace: UserNamespace,
    connection_space: uuid.UUID | None,
    user_id: str,
) -> bool:
    """The ownership rule: a client may use a connection in its ``space`` (a confined client's own,
    or the shared one) whose user id its namespace admits."""
    return connection_space == space and namespace.admits_user_id(user_id)

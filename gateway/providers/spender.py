"""Who spends a provider's OAuth budget: every request to its token, revocation, introspection and
partner-auth endpoints is made for one of these, and the budget counts it against their share."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass


class SpenderKind(enum.Enum):
    REFRESHER = "refresher"  # the worker's own work: the refresher loop and the revocation queue
    OPERATOR = "operator"  # the admin API, the console and the CLI
    CLIENT = "client"  # a service client: its connects, provisionings and the proxy's refreshes


@dataclass(frozen=True)
class Spender:
    kind: SpenderKind
    client_id: uuid.UUID | None = None

    @classmethod
    def client(cls, client_id: uuid.UUID | None) -> Spender:
        """The service client, or an operator for work no client started (``client_id`` None)."""
        return OPERATOR if client_id is None else cls(SpenderKind.CLIENT, client_id)

    @property
    def key(self) -> str:
        """The name the budget counts under: ``refresher``, ``operator`` or ``client:<id>``."""
        if self.client_id is None:
            return self.kind.value
        return f"{self.kind.value}:{self.client_id}"

    def __str__(self) -> str:
        return self.key


REFRESHER = Spender(SpenderKind.REFRESHER)
OPERATOR = Spender(SpenderKind.OPERATOR)

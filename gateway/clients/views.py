"""A service client as operators see it (the CLI's ``--json``); never its key or hash."""

from __future__ import annotations

from typing import Any

from gateway.kit.clock import rfc3339
from gateway.models import ServiceClient


def client_json(client: ServiceClient) -> dict[str, Any]:
    rate_limit = (
        {"per_second": client.rate_limit_per_second, "burst": client.rate_limit_burst}
        if client.rate_limit_per_second is not None
        else None
    )
    return {
        "id": str(client.id),
        "name": client.name,
        "key_prefix": client.key_prefix,
        "scopes": list(client.scopes),
        "allow": list(client.allow_rules),
        "own_users_only": client.own_users_only,
        "user_pattern": client.user_pattern,
        "rate_limit": rate_limit,
        "revoked": client.revoked_at is not None,
        "revoked_at": rfc3339(client.revoked_at),
        "created_at": rfc3339(client.created_at),
        "updated_at": rfc3339(client.updated_at),
    }

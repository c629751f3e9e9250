"""Which permission each admin-API route and each console page needs: the one declaration that
``clients.authorization`` (the admin API) and ``console.guard`` (the console) check, through
``roles.permits``. Keyed by (method, route path as the URL map writes it)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gateway.operators.roles import Permission

CONNECT = "connect"


@dataclass(frozen=True)
class Rule:
    """What a route needs: an operator's ``permission``, or, where ``client_scope`` is set, a
    service client with that scope acting on what it owns or may see."""

    permission: Permission
    client_scope: str | None = None


P = Permission
_CONNECTION = "/v1/connections/{connection_id}"
_SUBSCRIPTION = "/v1/subscriptions/{subscription_id}"

# (method, route path) -> what it needs: the one declaration every admin-API check reads.
ADMIN_API: Mapping[tuple[str, str], Rule] = {
    ("GET", "/v1/connections"): Rule(P.READ_CONNECTIONS, CONNECT),
    ("POST", "/v1/connections/import"): Rule(P.MANAGE_CONNECTIONS),
    ("POST", "/v1/connections/credentials"): Rule(P.MANAGE_CONNECTIONS),
    ("POST", "/v1/connections/client-credentials"): Rule(P.MANAGE_CONNECTIONS, CONNECT),
    ("POST", "/v1/connections/revocations"): Rule(P.REVOKE_CONNECTIONS),
    ("GET", _CONNECTION): Rule(P.READ_CONNECTIONS, CONNECT),
    # A patch that only pauses or resumes needs no more (``updating_permission``).
    ("PATCH", _CONNECTION): Rule(P.PAUSE_CONNECTIONS, CONNECT),
    ("DELETE", _CONNECTION): Rule(P.REVOKE_CONNECTIONS),
    ("GET", f"{_CONNECTION}/revocation"): Rule(P.READ_CONNECTIONS),
    ("POST", f"{_CONNECTION}/refresh"): Rule(P.REFRESH_CONNECTIONS),
    ("POST", f"{_CONNECTION}/token"): Rule(P.REFRESH_CONNECTIONS, CONNECT),
    ("POST", f"{_CONNECTION}/verify"): Rule(P.REFRESH_CONNECTIONS, CONNECT),
    ("POST", f"{_CONNECTION}/transfer"): Rule(P.MANAGE_CONNECTIONS),
    ("GET", f"{_CONNECTION}/events"): Rule(P.READ_EVENT_METADATA, CONNECT),
    ("GET", f"{_CONNECTION}/events/{{entry_id}}"): Rule(P.READ_EVENT_METADATA, CONNECT),
    ("GET", f"{_CONNECTION}/keys"): Rule(P.READ_CONNECTIONS, CONNECT),
    ("POST", f"{_CONNECTION}/keys"): Rule(P.MANAGE_CONNECTIONS, CONNECT),
    ("DELETE", f"{_CONNECTION}/keys/{{key_id}}"): Rule(P.REVOKE_CONNECTIONS, CONNECT),
    ("GET", "/v1/audit-events"): Rule(P.READ_AUDIT),
    ("GET", "/v1/events/unmatched"): Rule(P.READ_EVENT_METADATA),
    ("GET", "/v1/subscriptions"): Rule(P.READ_EVENT_METADATA, CONNECT),
    ("POST", "/v1/subscriptions"): Rule(P.MANAGE_SUBSCRIPTIONS, CONNECT),
    ("GET", _SUBSCRIPTION): Rule(P.READ_EVENT_METADATA, CONNECT),
    ("PATCH", _SUBSCRIPTION): Rule(P.MANAGE_SUBSCRIPTIONS, CONNECT),
    ("DELETE", _SUBSCRIPTION): Rule(P.MANAGE_SUBSCRIPTIONS, CONNECT),
    ("POST", f"{_SUBSCRIPTION}/secrets"): Rule(P.MANAGE_SUBSCRIPTIONS, CONNECT),
    ("GET", f"{_SUBSCRIPTION}/deliveries"): Rule(P.READ_EVENT_METADATA, CONNECT),
    ("POST", f"{_SUBSCRIPTION}/deliveries/{{delivery_id}}/replay"): Rule(P.RESEND_EVENTS, CONNECT),
    ("POST", f"{_SUBSCRIPTION}/ping"): Rule(P.RESEND_EVENTS, CONNECT),
    ("GET", "/v1/clients"): Rule(P.MANAGE_CLIENTS),
    ("POST", "/v1/clients"): Rule(P.MANAGE_CLIENTS),
    ("GET", "/v1/clients/{name}"): Rule(P.MANAGE_CLIENTS),
    ("PATCH", "/v1/clients/{name}"): Rule(P.MANAGE_CLIENTS),
    ("DELETE", "/v1/clients/{name}"): Rule(P.MANAGE_CLIENTS),
    ("POST", "/v1/clients/{name}/key"): Rule(P.MANAGE_CLIENTS),
    ("GET", "/v1/keys"): Rule(P.MANAGE_KEYS),
    ("POST", "/v1/keys/rotation"): Rule(P.MANAGE_KEYS),
}


_PAGE = "/console/connections/{connection_id}"

# The console's pages and forms (paths under its mount). A page that only reads needs the
# permission to read what it shows; a form needs the permission of what it does, and the page
# hides a form the operator's role may not post (``console.guard.Operator.may``).
CONSOLE: Mapping[tuple[str, str], Permission] = {
    ("GET", "/console/connections"): P.READ_CONNECTIONS,
    ("GET", "/console/audit"): P.READ_AUDIT,
    # Dangerous actions: their confirmation steps and forms also need a fresh sign-in.
    ("GET", "/console/revocations"): P.REVOKE_CONNECTIONS,
    ("POST", "/console/revocations"): P.REVOKE_CONNECTIONS,
    ("GET", "/console/keys"): P.MANAGE_KEYS,
    ("GET", "/console/keys/rotation"): P.MANAGE_KEYS,
    ("POST", "/console/keys/rotation"): P.MANAGE_KEYS,
    ("GET", "/console/connections/new"): P.MANAGE_CONNECTIONS,
    ("POST", "/console/connections/new/client-credentials"): P.MANAGE_CONNECTIONS,
    ("POST", "/console/connections/new/credential"): P.MANAGE_CONNECTIONS,
    ("GET", _PAGE): P.READ_CONNECTIONS,
    ("GET", f"{_PAGE}/revoke"): P.REVOKE_CONNECTIONS,
    ("POST", f"{_PAGE}/revoke"): P.REVOKE_CONNECTIONS,
    ("POST", f"{_PAGE}/refresh"): P.REFRESH_CONNECTIONS,
    ("POST", f"{_PAGE}/verify"): P.REFRESH_CONNECTIONS,
    ("POST", f"{_PAGE}/pause"): P.PAUSE_CONNECTIONS,
    ("POST", f"{_PAGE}/resume"): P.PAUSE_CONNECTIONS,
    ("POST", f"{_PAGE}/edit"): P.MANAGE_CONNECTIONS,
    ("POST", f"{_PAGE}/default"): P.MANAGE_CONNECTIONS,
    ("POST", f"{_PAGE}/keys"): P.MANAGE_CONNECTIONS,
    ("GET", f"{_PAGE}/keys/{{key_id}}"): P.MANAGE_CONNECTIONS,
    ("POST", f"{_PAGE}/keys/{{key_id}}/revoke"): P.REVOKE_CONNECTIONS,
    ("GET", "/console/clients"): P.MANAGE_CLIENTS,
    ("POST", "/console/clients"): P.MANAGE_CLIENTS,
    ("GET", "/console/clients/{name}"): P.MANAGE_CLIENTS,
    ("POST", "/console/clients/{name}/edit"): P.MANAGE_CLIENTS,
    ("POST", "/console/clients/{name}/enabled"): P.MANAGE_CLIENTS,
    ("POST", "/console/clients/{name}/key"): P.MANAGE_CLIENTS,
    ("GET", "/console/subscriptions"): P.READ_EVENT_METADATA,
    ("POST", "/console/subscriptions"): P.MANAGE_SUBSCRIPTIONS,
    ("GET", "/console/subscriptions/{subscription_id}"): P.READ_EVENT_METADATA,
    ("POST", "/console/subscriptions/{subscription_id}/enabled"): P.MANAGE_SUBSCRIPTIONS,
    ("POST", "/console/subscriptions/{subscription_id}/rotate"): P.MANAGE_SUBSCRIPTIONS,
    ("POST", "/console/subscriptions/{subscription_id}/deliveries/{delivery_id}/replay"): (
        P.RESEND_EVENTS
    ),
}

"""The whole URL map."""

from __future__ import annotations

from starlette.routing import Route

from gateway import health, jwks, openapi, scrape
from gateway.audit import endpoints as audit
from gateway.connect import credential_form
from gateway.connect import endpoints as connect
from gateway.connections import delegated_key_endpoints as delegated_keys
from gateway.connections import endpoints as connections
from gateway.connections import revocation_endpoints as revocations
from gateway.connections.timeline import endpoints as timeline
from gateway.console.routes import console
from gateway.keys import endpoints as keys
from gateway.management import client_endpoints as clients
from gateway.provisioning import endpoints as provisioning
from gateway.provisioning import page as provisioning_page
from gateway.proxy.endpoints import (
    CONNECTIONS_TEMPLATE,
    SDK_CONNECTIONS_TEMPLATE,
    SDK_USERS_TEMPLATE,
    USERS_TEMPLATE,
    ProxyRoute,
)
from gateway.proxy.paths import (
    CONNECTIONS_PREFIX,
    SDK_CONNECTIONS_PREFIX,
    SDK_USERS_PREFIX,
    USERS_PREFIX,
)
from gateway.subscriptions import endpoints as subscriptions
from gateway.webhooks import endpoints as received_webhooks
from gateway.webhooks import receive as webhooks

routes = [
    Route("/healthz", health.healthz, methods=["GET"]),
    Route("/readyz", health.readyz, methods=["GET"]),
    Route("/metrics", scrape.metrics, methods=["GET"]),
    Route("/openapi.json", openapi.document, methods=["GET"]),
    Route("/.well-known/jwks.json", jwks.jwks, methods=["GET"]),
    Route("/v1/connect-sessions", connect.create_connect_session, methods=["POST"]),
    Route("/connect", connect.start_connect, methods=["GET"]),
    Route(credential_form.PATH, credential_form.submit, methods=["POST"]),
    Route("/oauth/callback", connect.callback, methods=["GET"]),
    Route("/v1/provisioning", provisioning.create_provisioning, methods=["POST"]),
    Route("/v1/provisioning/{provisioning_id}", provisioning.get_provisioning, methods=["GET"]),
    Route(
        "/v1/provisioning/{provisioning_id}/verify",
        provisioning.verify_provisioning,
        methods=["POST"],
    ),
    Route("/provision/{provisioning_id}", provisioning_page.show, methods=["GET"]),
    Route("/provision/{provisioning_id}", provisioning_page.submit, methods=["POST"]),
    ProxyRoute(USERS_PREFIX, USERS_TEMPLATE),  # every method
    ProxyRoute(CONNECTIONS_PREFIX, CONNECTIONS_TEMPLATE),  # every method
    ProxyRoute(SDK_USERS_PREFIX, SDK_USERS_TEMPLATE),  # Contio's SDK, by user
    ProxyRoute(SDK_CONNECTIONS_PREFIX, SDK_CONNECTIONS_TEMPLATE),  # and by connection
    Route("/webhooks/contio", webhooks.contio_webhook, methods=["POST"]),
    Route("/v1/connections", connections.list_connections, methods=["GET"]),
    # Before /v1/connections/{connection_id}, which would take "import" (and the next) for an id.
    Route("/v1/connections/import", connections.import_connection, methods=["POST"]),
    Route("/v1/connections/revocations", revocations.revoke_selected, methods=["POST"]),
    Route(
        "/v1/connections/credentials",
        connections.store_credential_connection,
        methods=["POST"],
    ),
    Route(
        "/v1/connections/client-credentials",
        connections.create_client_credentials,
        methods=["POST"],
    ),
    Route(
        "/v1/connections/{connection_id}",
        connections.connection,
        methods=["GET", "PATCH", "DELETE"],
    ),
    Route(
        "/v1/connections/{connection_id}/revocation",
        connections.revocation_preview,
        methods=["GET"],
    ),
    Route(
        "/v1/connections/{connection_id}/refresh", connections.refresh_connection, methods=["POST"]
    ),
    Route("/v1/connections/{connection_id}/token", connections.obtain_token, methods=["POST"]),
    Route(
        "/v1/connections/{connection_id}/verify", connections.verify_connection, methods=["POST"]
    ),
    Route(
        "/v1/connections/{connection_id}/transfer",
        connections.transfer_connection,
        methods=["POST"],
    ),
    Route("/v1/connections/{connection_id}/events", timeline.list_timeline, methods=["GET"]),
    Route(
        "/v1/connections/{connection_id}/events/{entry_id}",
        timeline.timeline_entry,
        methods=["GET"],
    ),
    Route(
        "/v1/connections/{connection_id}/keys",
        delegated_keys.connection_keys,
        methods=["GET", "POST"],
    ),
    Route(
        "/v1/connections/{connection_id}/keys/{key_id}",
        delegated_keys.revoke_key,
        methods=["DELETE"],
    ),
    Route("/v1/audit-events", audit.list_audit_events, methods=["GET"]),
    Route("/v1/subscriptions", subscriptions.subscriptions_collection, methods=["GET", "POST"]),
    Route(
        "/v1/subscriptions/{subscription_id}",
        subscriptions.subscription,
        methods=["GET", "PATCH", "DELETE"],
    ),
    Route(
        "/v1/subscriptions/{subscription_id}/secrets",
        subscriptions.rotate_secret,
        methods=["POST"],
    ),
    Route(
        "/v1/subscriptions/{subscription_id}/deliveries",
        subscriptions.list_deliveries,
        methods=["GET"],
    ),
    Route(
        "/v1/subscriptions/{subscription_id}/deliveries/{delivery_id}/replay",
        subscriptions.replay_delivery,
        methods=["POST"],
    ),
    Route("/v1/subscriptions/{subscription_id}/ping", subscriptions.ping, methods=["POST"]),
    Route("/v1/events/unmatched", received_webhooks.list_unmatched, methods=["GET"]),
    Route("/v1/clients", clients.clients_collection, methods=["GET", "POST"]),
    Route("/v1/clients/{name}", clients.client, methods=["GET", "PATCH", "DELETE"]),
    Route("/v1/clients/{name}/key", clients.rotate_key, methods=["POST"]),
    Route("/v1/keys", keys.key_status, methods=["GET"]),
    Route("/v1/keys/rotation", keys.rotate, methods=["POST"]),
    console,  # /console/...: the operators' HTML pages
]

"""Inbound provider webhooks: a provider tells the gateway about its users (outbound events to
internal services are ``gateway.events``).

``catalogue``   Contio's 35 event types by family, and the include-filter subscriptions call for
``contio``      Contio's webhook signature and envelope (pure, no I/O)
``receive``     ``POST /webhooks/contio``: verify, apply the event's effect, forward it
``forwarding``  a verified event as ``provider.contio.<type>`` outbound events, or kept as unmatched
``unmatched``   the events that matched no connection: kept sealed, listed, never forwarded
``endpoints``   ``GET /v1/events/unmatched`` (scope admin)
"""

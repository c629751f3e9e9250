"""Inbound provider webhooks: a provider tells the gateway about its users' grants (outbound events
to internal services are ``gateway.events``).

``catalogue`` Contio's 35 event types by family, and the include-filter subscriptions call for
``contio``    Contio's webhook signature and envelope (pure, no I/O)
``receive``   ``POST /webhooks/contio``
"""

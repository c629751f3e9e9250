"""Inbound provider webhooks: a provider tells the gateway about its users' grants (outbound events
to internal services are ``gateway.events``).

``contio``   Contio's webhook signature and envelope (pure, no I/O)
``receive``  ``POST /webhooks/contio``
"""

"""Outbound events: signed events to internal services, written to an outbox and delivered later
(provider webhooks coming in are ``gateway.webhooks``).

``outbox``        ``emit`` writes an event and its deliveries inside the caller's transaction
``signing``       Standard Webhooks signatures (``whsec_`` secrets, ``v1,<base64>``)
``delivery``      the ``Deliverer``: claims due deliveries, POSTs them, records the outcome
``dead_letters``  deliveries given up on: listing them and queueing them again
"""

"""Events: outbound signed events to internal services (the outbox) and provider webhooks in.

``outbox``    ``emit`` writes an event and its deliveries inside the caller's transaction
``signing``   Standard Webhooks signatures (``whsec_`` secrets, ``v1,<base64>``)
``delivery``  the ``Deliverer``: claims due deliveries, POSTs them, records the outcome
``contio``    Contio's webhook signature and envelope (pure, no I/O)
``inbound``   ``POST /webhooks/contio``
"""

"""Partner-auth provisioning: a service signs one of its users up at the provider.

``POST /v1/provisioning`` has the provider mail the user a one-time code; the code comes back through
the gateway's verify page or ``POST /v1/provisioning/{id}/verify``; the gateway then verifies it,
consents without a browser, exchanges the code and keeps the connection as the connect flow does.
"""

"""Service clients: the internal services that call the gateway, their keys, scopes and proxy rules."""

"""Service clients' subscriptions to outbound events, as callers manage them: the admin API and the
CLI. Storing, routing and delivering them is ``gateway.events``'s."""

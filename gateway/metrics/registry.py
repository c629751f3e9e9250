"""The process's Prometheus metrics.

Counters are this process's own (refresh outcomes, budget refusals). The gauges describe the whole
cluster and are read from PostgreSQL for the scrape, at most once per interval (``cluster``), so
every replica reports about the same values: in PromQL take ``max`` of them across replicas, not
``sum``. No label ever holds a user id or a token.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from gateway.metrics.cluster import Latest
from gateway.metrics.requests import RequestStats


class Metrics:
    """The process's metrics, in a registry of their own (created by the lifespan)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = RequestStats()
        self.registry.register(self.requests)
        self.refreshes = Counter(
            "gateway_refreshes",
            "Refresh attempts by this process, by outcome "
            "(success, reauth_required, credentials_unreadable, client_rejected, transient, deferred,"
            " cooling_down).",
            ["provider", "outcome"],
            registry=self.registry,
        )
        self.budget_refusals = Counter(
            "gateway_token_budget_refusals",
            "Token-endpoint requests this process did not send because the budget was spent.",
            ["provider", "spender"],  # refresher, operator or client
            registry=self.registry,
        )
        self.connections = Gauge(
            "gateway_connections",
            "Connections in the cluster by status.",
            ["provider", "status"],
            registry=self.registry,
        )
        self.refresh_backlog = Gauge(
            "gateway_refresh_backlog",
            "Active connections whose scheduled refresh time has passed.",
            ["provider"],
            registry=self.registry,
        )
        self.soonest_expiry = Gauge(
            "gateway_soonest_token_expiry_seconds",
            "Seconds until the soonest access-token expiry among active connections "
            "(negative: a token has expired unrefreshed).",
            ["provider"],
            registry=self.registry,
        )
        self.budget_used = Gauge(
            "gateway_token_budget_used",
            "Token-endpoint requests spent in the provider's current rate window.",
            ["provider"],
            registry=self.registry,
        )
        self.budget_limit = Gauge(
            "gateway_token_budget_limit",
            "Token-endpoint requests allowed per rate window (GATEWAY_<PROVIDER>_TOKEN_RATE).",
            ["provider"],
            registry=self.registry,
        )
        self.lease_waits = Counter(
            "gateway_refresh_lease_waits",
            "Refreshes this process did not run because another process held the connection's "
            "lease (it used that process's result).",
            ["provider"],
            registry=self.registry,
        )
        self.outbox_lag = Gauge(
            "gateway_outbox_lag_seconds",
            "Age of the oldest event delivery still waiting to be sent (0 when none).",
            registry=self.registry,
        )
        self.dead_letters = Gauge(
            "gateway_event_dead_letters",
            "Event deliveries abandoned after their last attempt (gateway events dead).",
            registry=self.registry,
        )
        self.provider_webhooks = Counter(
            "gateway_provider_webhooks",
            "Verified provider webhook events received by this process, by outcome: forwarded (to "
            "internal services), duplicate (an event id already received) or unmatched (kept for "
            "gateway events unmatched, not forwarded).",
            ["provider", "outcome"],
            registry=self.registry,
        )
        self.forwarded_events = Counter(
            "gateway_forwarded_events",
            "Outbound provider.<name>.<type> events this process wrote: one per connection of the "
            "event's user, one for a partner-level event.",
            ["provider"],
            registry=self.registry,
        )
        self.breaker_open = Gauge(
            "gateway_provider_breaker_open",
            "1 while the provider refuses the gateway's own client and the breaker is open.",
            ["provider"],
            registry=self.registry,
        )
        self.cluster_age = Gauge(
            "gateway_cluster_gauges_age_seconds",
            "Seconds since the cluster's gauges were read from PostgreSQL (+Inf: not yet read; "
            "growing past GATEWAY_METRICS_CLUSTER_SECONDS: the reads fail).",
            registry=self.registry,
        )
        self.cluster_age.set(float("inf"))

    def show_cluster(self, latest: Latest) -> None:
        """Set the cluster's gauges to ``latest``'s figures (left as they are when there are none)
        and their age."""
        self.cluster_age.set(latest.age)
        figures = latest.figures
        if figures is None:
            return
        for gauge in (
            self.connections,
            self.refresh_backlog,
            self.soonest_expiry,
            self.breaker_open,
            self.budget_used,
            self.budget_limit,
        ):
            gauge.clear()
        for (provider, status), count in figures.connections.items():
            self.connections.labels(provider, status).set(count)
        for provider, count in figures.refresh_backlog.items():
            self.refresh_backlog.labels(provider).set(count)
        for provider, seconds in figures.soonest_expiry.items():
            self.soonest_expiry.labels(provider).set(seconds)
        for provider, is_open in figures.breaker_open.items():
            self.breaker_open.labels(provider).set(int(is_open))
        for provider, (used, limit) in figures.budget.items():
            self.budget_used.labels(provider).set(used)
            self.budget_limit.labels(provider).set(limit)
        self.outbox_lag.set(figures.outbox_lag)
        self.dead_letters.set(figures.dead_letters)

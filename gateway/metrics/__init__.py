"""Prometheus metrics: the registry each process keeps (scraped at ``GET /metrics``, ``gateway.scrape``)."""

from gateway.metrics.registry import Metrics

__all__ = ["Metrics"]

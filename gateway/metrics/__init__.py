"""Prometheus metrics: the registry each process keeps, and the scrape endpoint."""

from gateway.metrics.registry import Metrics

__all__ = ["Metrics"]

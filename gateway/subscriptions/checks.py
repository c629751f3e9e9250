"""Checking what a caller sends for a subscription, before any transaction opens (a URL's check
asks DNS): the egress rules for the URL, ``routing``'s rules for event types, the connections'
label rules for the selector. Each refusal is a 422 with a stable code."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gateway.connections.labels import Selector
from gateway.events import routing
from gateway.events.subscriptions import SubscriptionSpec
from gateway.kit.egress import EgressPolicy, RefusedDestination
from gateway.models import Subscription
from gateway.subscriptions.errors import (
    InvalidEventTypes,
    InvalidLabelSelector,
    SubscriptionUrlNotAllowed,
)

MAX_SELECTORS = 10


@dataclass(frozen=True)
class Changes:
    """What an update changes, each checked; None leaves it as it is."""

    url: str | None = None
    event_types: list[str] | None = None
    selector: tuple[dict[str, str], list[str]] | None = None
    enabled: bool | None = None

    def apply(self, subscription: Subscription) -> None:
        if self.url is not None:
            subscription.url = self.url
        if self.event_types is not None:
            subscription.event_types = self.event_types
        if self.selector is not None:
            subscription.label_values, subscription.label_keys = self.selector
        if self.enabled is not None:
            subscription.enabled = self.enabled


async def checked_spec(
    policy: EgressPolicy,
    url: str,
    event_types: Sequence[str],
    label_selector: Sequence[str],
    *,
    enabled: bool = True,
) -> SubscriptionSpec:
    """A new subscription's parts, each checked (the URL with DNS: before any transaction)."""
    values, keys = parsed_selector(label_selector)
    return SubscriptionSpec(
        url=await checked_url(policy, url),
        event_types=checked_types(event_types),
        label_values=values,
        label_keys=keys,
        enabled=enabled,
    )


async def checked_changes(
    policy: EgressPolicy,
    *,
    url: str | None = None,
    event_types: Sequence[str] | None = None,
    label_selector: Sequence[str] | None = None,
    enabled: bool | None = None,
) -> Changes:
    """An update's changes, each checked like ``checked_spec``'s parts."""
    return Changes(
        url=await checked_url(policy, url) if url is not None else None,
        event_types=checked_types(event_types) if event_types is not None else None,
        selector=parsed_selector(label_selector) if label_selector is not None else None,
        enabled=enabled,
    )


async def checked_url(policy: EgressPolicy, url: str) -> str:
    """``url`` if the egress rules take it and every address its host resolves to."""
    try:
        await policy.resolve(url)
    except RefusedDestination as exc:
        raise SubscriptionUrlNotAllowed(str(exc), details={"reason": exc.code}) from exc
    return url


def checked_types(event_types: Sequence[str]) -> list[str]:
    problem = routing.pattern_problem(event_types)
    if problem is not None:
        raise InvalidEventTypes(problem)
    return sorted(set(event_types))


def parsed_selector(terms: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """The selector's ``key=value`` terms as labels to contain, and its bare keys."""
    if len(terms) > MAX_SELECTORS:
        raise InvalidLabelSelector(f"a label selector has at most {MAX_SELECTORS} terms")
    values: dict[str, str] = {}
    keys: list[str] = []
    for term in terms:
        try:
            selector = Selector.parse(term)
        except ValueError as exc:
            raise InvalidLabelSelector(str(exc)) from exc
        if selector.value is None:
            keys.append(selector.key)
        else:
            values[selector.key] = selector.value
    return values, sorted(set(keys))

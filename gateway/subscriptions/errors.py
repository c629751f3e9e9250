"""The subscriptions' errors (``gateway.exceptions`` draws the tree)."""

from __future__ import annotations

from gateway.exceptions import BadRequest, Conflict, NotFound, UnprocessableContent


class SubscriptionNotFound(NotFound):
    """Raised for a subscription that does not exist or that the caller may not see."""

    code = "subscription_not_found"


class SubscriptionUrlNotAllowed(UnprocessableContent):
    """Raised when a subscription's URL, or an address its host resolves to, is refused by the
    egress rules; ``details.reason`` is the rule's code (``kit.egress.RefusedDestination``)."""

    code = "subscription_url_not_allowed"


class InvalidEventTypes(UnprocessableContent):
    """Raised when a subscription's event types are not types, ``prefix.*`` patterns or ``*``."""

    code = "invalid_event_types"


class InvalidLabelSelector(UnprocessableContent):
    """Raised when a term of a label selector is not ``key`` or ``key=value``."""

    code = "invalid_label_selector"


class DeliveryNotFound(NotFound):
    """Raised for a delivery that is not one of the subscription's."""

    code = "delivery_not_found"


class DeliveryNotAbandoned(Conflict):
    """Raised when a replay names a delivery that is still pending or was delivered."""

    code = "delivery_not_abandoned"


class SubscriptionDisabled(Conflict):
    """Raised when a ping names a disabled subscription (its deliveries wait until enabled)."""

    code = "subscription_disabled"


class InvalidDeliveryState(BadRequest):
    """Raised when the delivery log is asked for a state it does not know."""

    code = "invalid_state"

"""Which subscriptions an event goes to (besides the operator-wide endpoints its caller names).

A subscription admits an event when three things hold:

- **type**: one of its patterns is the event's type, ``*``, or ``prefix.*`` for a prefix of the
  type ending at a dot (``connection.*`` admits ``connection.revoked``, ``provider.contio.*``
  admits ``provider.contio.meeting.completed``);
- **connection**: the event names one (``data["connection_id"]``) that the subscription's client
  may use under the ownership rule (``kit.namespace.may_use``: a confined client its own space, an
  unconfined one the shared space, each for the user ids its pattern admits);
- **labels**: that connection's labels hold every term of its label selector.

An event about no connection reaches operator-wide endpoints only. One query finds the candidates:
enabled subscriptions of enabled clients naming a pattern that admits the type, whose selector the
connection's labels meet; the ownership rule, a regular expression, is then applied to each.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence

from sqlalchemy import Text, literal, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.kit.namespace import UserNamespace, may_use
from gateway.models import Connection, ServiceClient, Subscription

ANY = "*"
MAX_PATTERNS = 50
MAX_PATTERN_LENGTH = 64
# Dot-separated words, optionally ending ``.*``; or ``*`` alone.
PATTERN = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*(?:\.\*)?")


def patterns_admitting(event_type: str) -> list[str]:
    """Every pattern that admits ``event_type``: itself, ``*``, and ``prefix.*`` for each prefix."""
    words = event_type.split(".")
    prefixes = (".".join(words[:n]) + ".*" for n in range(1, len(words)))
    return [event_type, ANY, *prefixes]


def pattern_problem(patterns: Sequence[str]) -> str | None:
    """Why ``patterns`` are not a subscription's event types, or None when they are."""
    if not patterns or len(patterns) > MAX_PATTERNS:
        return f"name 1 to {MAX_PATTERNS} event types"
    for pattern in patterns:
        if pattern != ANY and (
            len(pattern) > MAX_PATTERN_LENGTH or PATTERN.fullmatch(pattern) is None
        ):
            return (
                f"event type {pattern[:80]!r}: write a type (dot-separated lower-case words), "
                f"a prefix ending '.*', or '*', of at most {MAX_PATTERN_LENGTH} characters"
            )
    return None


async def subscribers(
    session: AsyncSession, event_type: str, connection_id: uuid.UUID
) -> list[Subscription]:
    """The subscriptions admitting an event of ``event_type`` about the connection (read in the
    caller's transaction); none when the connection does not exist."""
    return (await subscribers_of(session, event_type, [connection_id])).get(connection_id, [])


async def subscribers_of(
    session: AsyncSession, event_type: str, connection_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Subscription]]:
    """``subscribers`` for an event of ``event_type`` about each of the connections, in one query:
    the admitting subscriptions by connection id (a connection none admits is left out)."""
    rows = await session.execute(
        select(
            Subscription,
            ServiceClient.own_users_only,
            ServiceClient.user_pattern,
            Connection.id,
            Connection.confined_to_client_id,
            Connection.user_id,
        )
        .join(ServiceClient, ServiceClient.id == Subscription.client_id)
        .join(Connection, Connection.id.in_(connection_ids))
        .where(
            Subscription.enabled.is_(True),
            ServiceClient.revoked_at.is_(None),
            Subscription.event_types.overlap(literal(patterns_admitting(event_type), ARRAY(Text))),
            Connection.labels.contains(Subscription.label_values),
            Connection.labels.has_all(Subscription.label_keys),
        )
        .order_by(Subscription.created_at, Subscription.id)
    )
    admitted: dict[uuid.UUID, list[Subscription]] = {}
    for subscription, own_users_only, user_pattern, connection_id, space, user_id in rows:
        namespace = UserNamespace(own_users_only, user_pattern)
        if may_use(namespace.space(subscription.client_id), namespace, space, user_id):
            admitted.setdefault(connection_id, []).append(subscription)
    return admitted


def connection_of(data: Mapping[str, object]) -> uuid.UUID | None:
    """The connection an event's data names (``connection_id``), if it names one well-formed."""
    value = data.get("connection_id")
    if not isinstance(value, str):
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None

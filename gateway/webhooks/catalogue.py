"""Contio's webhook event types, and which of them to ask Contio for.

The 35 types of Contio's AsyncAPI spec (v1.10.0), grouped by family (a type's first dotted
segment). The gateway forwards each to subscriptions as ``provider.contio.<type>``; a subscription
names what it wants by exact name or by a ``prefix.*`` pattern (``provider.contio.meeting.*``,
``provider.*``; a lone ``*`` wants everything). ``contio_filter_for`` turns those patterns into the
include-filter the gateway asks Contio to apply, so Contio sends only what someone wants.
``user.connection.revoked`` is always in it: the gateway itself acts on it.

Pure data and functions, without I/O.
"""

from __future__ import annotations

from collections.abc import Iterable

from gateway.events.routing import patterns_admitting

FORWARDED_PREFIX = "provider.contio."
CONNECTION_REVOKED = "user.connection.revoked"

FAMILIES: dict[str, tuple[str, ...]] = {
    "action_button": ("action_button.triggered",),
    "action_item": ("action_item.created", "action_item.updated", "action_item.completed"),
    "agenda_item": ("agenda_item.created", "agenda_item.updated", "agenda_item.deleted"),
    "automation": ("automation.assignment.created",),
    "calendar_event": (
        "calendar_event.created",
        "calendar_event.updated",
        "calendar_event.deleted",
    ),
    "canvas_template": ("canvas_template.applied",),
    "meeting": (
        "meeting.created",
        "meeting.updated",
        "meeting.completed",
        "meeting.context.created",
        "meeting.context.deleted",
        "meeting.context.processed",
    ),
    "meeting_template": ("meeting_template.applied",),
    "next_step": ("next_step.completed",),
    "participant": ("participant.added", "participant.removed"),
    "partner": (
        "partner.idp.domain_verified",
        "partner.idp.domain_verification_failed",
        "partner.idp.domain_revoked",
    ),
    "session": ("session.turn.completed", "session.turn.failed", "session.expired"),
    "user": (CONNECTION_REVOKED,),
    "workflow": (
        "workflow.run.started",
        "workflow.run.completed",
        "workflow.run.failed",
        "workflow.step.completed",
        "workflow.task.created",
        "workflow.task.resolved",
    ),
}

CONTIO_EVENT_TYPES: tuple[str, ...] = tuple(name for names in FAMILIES.values() for name in names)


def contio_filter_for(patterns: Iterable[str]) -> list[str]:
    """The Contio event types at least one pattern wants, plus ``user.connection.revoked``; sorted.

    Patterns are matched against the forwarded names (``provider.contio.<type>``), so patterns of
    the gateway's own events (``connection.*``) want nothing from Contio.
    """
    wanted = {CONNECTION_REVOKED}
    for pattern in patterns:
        wanted.update(
            t for t in CONTIO_EVENT_TYPES if pattern in patterns_admitting(FORWARDED_PREFIX + t)
        )
    return sorted(wanted)

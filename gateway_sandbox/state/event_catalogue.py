"""Contio's webhook event types: the 35 of its AsyncAPI spec, by family, and who each is about.

A type's family is its first dotted segment (``meeting`` holds ``meeting.context.created`` too).
``partner.idp.*`` events concern the partner app itself and carry no ``for_user``; every other type
is sent for a user. System events (a sync, a timer, an automation or an admin caused them) carry no
``actor_user_id``.
"""

from __future__ import annotations

EVENT_TYPES: tuple[str, ...] = (
    "action_button.triggered",
    "action_item.created",
    "action_item.updated",
    "action_item.completed",
    "agenda_item.created",
    "agenda_item.updated",
    "agenda_item.deleted",
    "automation.assignment.created",
    "calendar_event.created",
    "calendar_event.updated",
    "calendar_event.deleted",
    "canvas_template.applied",
    "meeting.created",
    "meeting.updated",
    "meeting.completed",
    "meeting.context.created",
    "meeting.context.deleted",
    "meeting.context.processed",
    "meeting_template.applied",
    "next_step.completed",
    "participant.added",
    "participant.removed",
    "partner.idp.domain_verified",
    "partner.idp.domain_verification_failed",
    "partner.idp.domain_revoked",
    "session.turn.completed",
    "session.turn.failed",
    "session.expired",
    "user.connection.revoked",
    "workflow.run.started",
    "workflow.run.completed",
    "workflow.run.failed",
    "workflow.step.completed",
    "workflow.task.created",
    "workflow.task.resolved",
)

SYSTEM_EVENTS = frozenset(
    {
        "automation.assignment.created",
        "calendar_event.created",
        "calendar_event.updated",
        "calendar_event.deleted",
        "meeting.context.processed",
        "session.turn.completed",
        "session.turn.failed",
        "session.expired",
        "user.connection.revoked",
        "workflow.run.started",
        "workflow.run.completed",
        "workflow.run.failed",
        "workflow.step.completed",
        "workflow.task.created",
        *(t for t in EVENT_TYPES if t.startswith("partner.")),
    }
)


def family(event_type: str) -> str:
    return event_type.split(".", 1)[0]


def is_partner_level(event_type: str) -> bool:
    """Whether the event is about the partner app rather than a user (no ``for_user``)."""
    return family(event_type) == "partner"

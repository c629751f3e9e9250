from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.models.base import Base, IdMixin


class UnmatchedEvent(IdMixin, Base):
    """A verified provider webhook event for a user no connection holds (or of a type the gateway
    cannot name): kept for an operator to inspect until retention removes it, never forwarded.

    Only what identifies the event is readable; ``data`` (the event's data as the provider sent it,
    which may name people) is sealed, and the user's email is not kept at all.
    """

    __tablename__ = "unmatched_events"
    __table_args__ = (
        Index("ix_unmatched_events_received_at", "received_at", "id"),
        Index("ix_unmatched_events_event_type_received_at", "event_type", "received_at", "id"),
    )

    provider: Mapped[str] = mapped_column(String(64))
    event_id: Mapped[str] = mapped_column(String(128))
    event_type: Mapped[str] = mapped_column(String(64))
    # The provider's id of the user the event is for (``for_user.id``); None for none.
    subject: Mapped[str | None] = mapped_column(String(255))
    sent_at: Mapped[datetime]
    received_at: Mapped[datetime]
    data: Mapped[str] = mapped_column(Text, info={"sealed": True})

    def __repr__(self) -> str:
        return (
            f"UnmatchedEvent(id={self.id}, provider={self.provider!r}, "
            f"event_type={self.event_type!r}, data=***)"
        )

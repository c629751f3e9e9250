"""ORM models, one table a file, all on one metadata (``Base.metadata``) for Alembic."""

from gateway.models.audit_cursor import AuditCursor
from gateway.models.audit_event import AuditEvent
from gateway.models.audit_segment import AuditSegment
from gateway.models.base import Base
from gateway.models.connect_session import ConnectSession
from gateway.models.connection import AuthMode, Connection, ConnectionStatus
from gateway.models.connection_external_id import ConnectionExternalId
from gateway.models.delegated_key import DelegatedKey
from gateway.models.idempotency_key import IdempotencyKey
from gateway.models.outbox import EventDelivery, OutboxEvent
from gateway.models.pending_revocation import PendingRevocation
from gateway.models.provider_state import ProviderBreaker, SeenWebhook, TokenBudgetWindow
from gateway.models.provisioning import Provisioning, ProvisioningStatus
from gateway.models.service_client import ServiceClient
from gateway.models.subscription import Subscription, SubscriptionSecret
from gateway.models.timeline_record import RecordKind, TimelineRecord
from gateway.models.unmatched_event import UnmatchedEvent

__all__ = [
    "AuditCursor",
    "AuditEvent",
    "AuditSegment",
    "AuthMode",
    "Base",
    "ConnectSession",
    "Connection",
    "ConnectionExternalId",
    "ConnectionStatus",
    "DelegatedKey",
    "EventDelivery",
    "IdempotencyKey",
    "OutboxEvent",
    "PendingRevocation",
    "ProviderBreaker",
    "Provisioning",
    "ProvisioningStatus",
    "RecordKind",
    "SeenWebhook",
    "ServiceClient",
    "Subscription",
    "SubscriptionSecret",
    "TimelineRecord",
    "TokenBudgetWindow",
    "UnmatchedEvent",
]

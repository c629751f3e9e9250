"""Reading and writing provisionings; callers own the transaction.

The verify-page token is stored as its SHA-256 hash; the provider's challenge session is sealed,
bound to its row, and erased as soon as the code has been answered or the provisioning closed.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.connect.connect_sessions import digest
from gateway.kit.crypto import Binding, KeyRing
from gateway.models import Provisioning, ProvisioningStatus


@dataclass(frozen=True)
class Access:
    """Who is asking: the service client that opened the provisioning, or whoever holds its page
    token. Anyone else learns nothing, not even that it exists."""

    client_id: uuid.UUID | None = None
    token: str | None = None

    def __repr__(self) -> str:
        return f"Access(client_id={self.client_id}, token={'***' if self.token else None})"


@dataclass(frozen=True)
class NewProvisioning:
    """What the service asked for, and what the provider's ``/auth/initiate`` answered."""

    client_id: uuid.UUID
    user_id: str
    provider: str
    email: str
    workspace_id: uuid.UUID | None
    replace_identity: bool
    user_provisioned: bool
    provider_session: str
    code_expires_at: datetime
    additional: bool = False
    allow_duplicate_account: bool = False

    def __repr__(self) -> str:
        return f"NewProvisioning(user_id={self.user_id!r}, provider_session=***)"


def _session_binding(provisioning_id: uuid.UUID) -> Binding:
    return Binding(Provisioning.__tablename__, "provider_session", str(provisioning_id))


async def create(
    session: AsyncSession, keys: KeyRing, new: NewProvisioning
) -> tuple[Provisioning, str]:
    """The provisioning and its verify-page token (shown once, in the verify URL)."""
    token = secrets.token_urlsafe(32)
    provisioning_id = uuid.uuid4()
    provisioning = Provisioning(
        id=provisioning_id,
        service_client_id=new.client_id,
        user_id=new.user_id,
        provider=new.provider,
        email=new.email,
        workspace_id=new.workspace_id,
        replace_identity=new.replace_identity,
        additional=new.additional,
        allow_duplicate_account=new.allow_duplicate_account,
        user_provisioned=new.user_provisioned,
        status=ProvisioningStatus.CODE_SENT,
        token_hash=digest(token),
        provider_session=keys.seal(new.provider_session, _session_binding(provisioning_id)),
        attempts=0,
        code_expires_at=new.code_expires_at,
    )
    session.add(provisioning)
    await session.flush()
    return provisioning, token


def provider_session(keys: KeyRing, provisioning: Provisioning) -> str | None:
    if provisioning.provider_session is None:
        return None
    return keys.open(provisioning.provider_session, _session_binding(provisioning.id))


async def find(
    session: AsyncSession, provisioning_id: uuid.UUID, access: Access, *, lock: bool = False
) -> Provisioning | None:
    """The provisioning, if ``access`` may see it; with ``lock``, its row is locked too."""
    allowed = []
    if access.client_id is not None:
        allowed.append(Provisioning.service_client_id == access.client_id)
    if access.token:
        allowed.append(Provisioning.token_hash == digest(access.token))
    if not allowed:
        return None
    query = select(Provisioning).where(Provisioning.id == provisioning_id, or_(*allowed))
    if lock:
        query = query.with_for_update()
    return await session.scalar(query)


async def reload(session: AsyncSession, provisioning_id: uuid.UUID) -> Provisioning:
    """The row again, locked: for a verify that already proved its access."""
    found = await session.scalar(
        select(Provisioning).where(Provisioning.id == provisioning_id).with_for_update()
    )
    assert found is not None  # provisionings are never deleted while a verify holds the lease
    return found


def take_lease(provisioning: Provisioning, now: datetime, lease: timedelta) -> None:
    provisioning.lease_expires_at = now + lease


def mark_verified(provisioning: Provisioning, now: datetime, session_ttl: timedelta) -> None:
    """The provider took the code: its session lives ``session_ttl``; the challenge is spent."""
    provisioning.status = ProvisioningStatus.VERIFIED
    provisioning.session_expires_at = now + session_ttl
    provisioning.provider_session = None


def mark_connected(provisioning: Provisioning, connection_id: uuid.UUID) -> None:
    provisioning.status = ProvisioningStatus.CONNECTED
    provisioning.connection_id = connection_id
    provisioning.lease_expires_at = None
    provisioning.provider_session = None


def close(provisioning: Provisioning, failure_code: str) -> None:
    """Closed for good: every later verify answers ``failure_code``."""
    provisioning.status = ProvisioningStatus.FAILED
    provisioning.failure_code = failure_code
    provisioning.lease_expires_at = None
    provisioning.provider_session = None

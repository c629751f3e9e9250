"""What the provisioning API takes and answers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints

from gateway.connections.fields import UserId
from gateway.kit.clock import rfc3339
from gateway.models import Provisioning, ProvisioningStatus

# Deliberately loose: the provider is the judge of what it can mail; this only keeps out junk.
Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
    ),
]
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=255, pattern=r"^[^\x00-\x1f\x7f]*$")
]
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]


class ProvisioningRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: UserId
    email: Email
    name: Name | None = None
    workspace_id: uuid.UUID | None = None
    is_admin: StrictBool | None = None
    provider: str | None = Field(default=None, max_length=64)
    replace_identity: StrictBool = False
    # A new connection beside the user's default one, instead of re-connecting the default.
    additional: StrictBool = False
    allow_duplicate_account: StrictBool = False


class VerifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Code


def created(provisioning: Provisioning, verify_url: str) -> dict[str, Any]:
    """The 201 answer to ``POST /v1/provisioning``."""
    return {
        "id": str(provisioning.id),
        "status": provisioning.status.value,
        "user_provisioned": provisioning.user_provisioned,
        "verify_url": verify_url,
        "expires_at": rfc3339(provisioning.code_expires_at),
    }


def connected(provisioning: Provisioning) -> dict[str, Any]:
    """The 200 answer of a verify that finished (or had finished before)."""
    return {
        "id": str(provisioning.id),
        "status": ProvisioningStatus.CONNECTED.value,
        "connection_id": str(provisioning.connection_id) if provisioning.connection_id else None,
    }


def view(
    provisioning: Provisioning, status: ProvisioningStatus, failure_code: str | None
) -> dict[str, Any]:
    """``GET /v1/provisioning/{id}``: where the provisioning stands; never a secret."""
    expires_at: datetime = provisioning.code_expires_at
    if provisioning.status is ProvisioningStatus.VERIFIED and provisioning.session_expires_at:
        expires_at = provisioning.session_expires_at
    return {
        "id": str(provisioning.id),
        "user_id": provisioning.user_id,
        "provider": provisioning.provider,
        "status": status.value,
        "user_provisioned": provisioning.user_provisioned,
        "expires_at": rfc3339(expires_at),
        "connection_id": str(provisioning.connection_id) if provisioning.connection_id else None,
        "error": failure_code,
        "created_at": rfc3339(provisioning.created_at),
    }

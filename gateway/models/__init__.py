"""ORM models, one table a file, all on one metadata (``Base.metadata``) for Alembic."""

from gateway.models.base import Base
from gateway.models.connect_session import ConnectSession
from gateway.models.connection import Connection, ConnectionStatus
from gateway.models.service_client import ServiceClient

__all__ = ["Base", "ConnectSession", "Connection", "ConnectionStatus", "ServiceClient"]

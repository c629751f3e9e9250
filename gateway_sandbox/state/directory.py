"""Users and workspaces: who exists, in which workspace, with which role.

A user belongs to exactly one workspace. Signing in through the consent page creates a user with a
personal workspace of their own (``WORKSPACE_OWNER``); partner-auth provisioning
creates one in a personal workspace too, or makes them join an existing workspace as
``WORKSPACE_ADMIN`` (``is_admin``) or ``WORKSPACE_MEMBER``.

Choices where Contio says nothing:

- Provisioning a user who already exists never changes their role or moves them: without a
  ``workspace_id`` it simply signs them in; with their own workspace's id it does the same; with any
  other workspace's id it is ``WorkspaceConflict``.
- A workspace may be joined if it belongs to this partner app (its owner is one of the partner's
  users), whether it was seeded as shared or began as someone's personal workspace.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import replace
from uuid import UUID

from gateway_sandbox.seed import Seed
from gateway_sandbox.state.records import User, Workspace

OWNER, ADMIN, MEMBER = "WORKSPACE_OWNER", "WORKSPACE_ADMIN", "WORKSPACE_MEMBER"
_TIMEZONES = ("America/New_York", "Europe/London", "Europe/Berlin", "America/Los_Angeles", "UTC")
_IDS = uuid.UUID("6f1d9a52-3c1e-4f7e-9a0b-5c2d8e4f1a37")  # namespace for ids derived from emails


class WorkspaceNotFound(Exception):
    """The workspace id names no workspace."""


class WorkspaceNotAuthorized(Exception):
    """The workspace belongs to another partner app."""


class WorkspaceConflict(Exception):
    """The user already belongs to another workspace, named by ``workspace_id``."""

    def __init__(self, workspace_id: UUID) -> None:
        super().__init__(f"The user already belongs to workspace {workspace_id}.")
        self.workspace_id = workspace_id


def name_from_email(email: str) -> str:
    local = email.split("@", 1)[0]
    words = [word for word in local.replace("_", ".").replace("-", ".").split(".") if word]
    return " ".join(word.capitalize() for word in words) or email


def normalize(email: str) -> str:
    return email.strip().lower()


class Directory:
    def __init__(self, client_id: str, clock: Callable[[], float], seed: Seed) -> None:
        self.client_id = client_id
        self._clock = clock
        self._lock = threading.Lock()
        self._users: dict[UUID, User] = {}
        self._workspaces: dict[UUID, Workspace] = {}
        for ws in seed.workspaces:
            self._workspaces[ws.id] = Workspace(
                ws.id, ws.name, clock(), ws.partner or client_id, ws.sample_data
            )
        for seeded in seed.users:
            with self._lock:
                if seeded.workspace is None:
                    user = self._create_personal(seeded.email, seeded.name)
                else:
                    user = self._create(seeded.email, seeded.name, seeded.workspace, MEMBER)
                self._users[user.id] = _with(
                    user, seeded.role or user.workspace_role, seeded.plan_type, seeded.timezone
                )

    def sign_in(self, email: str, name: str | None = None) -> User:
        """The user with this email, created with a personal workspace on first sign-in."""
        with self._lock:
            return self._user_by_email(normalize(email)) or self._create_personal(email, name)

    def provision(
        self, email: str, name: str | None, workspace_id: UUID | None, is_admin: bool
    ) -> tuple[User, bool]:
        """The user (created if new, then ``True``), placed as §3 describes; see the exceptions."""
        email = normalize(email)
        with self._lock:
            if workspace_id is not None:
                workspace = self._workspaces.get(workspace_id)
                if workspace is None:
                    raise WorkspaceNotFound(f"No workspace {workspace_id}.")
                if workspace.client_id != self.client_id:
                    raise WorkspaceNotAuthorized(
                        "The workspace is not owned by a user of this partner app."
                    )
            existing = self._user_by_email(email)
            if existing is not None:
                if workspace_id is not None and existing.workspace_id != workspace_id:
                    raise WorkspaceConflict(existing.workspace_id)
                return existing, False
            if workspace_id is None:
                return self._create_personal(email, name), True
            return self._create(email, name, workspace_id, ADMIN if is_admin else MEMBER), True

    def users(self) -> list[User]:
        with self._lock:
            return list(self._users.values())

    def user_by_email(self, email: str) -> User | None:
        with self._lock:
            return self._user_by_email(normalize(email))

    def user_by_id(self, user_id: UUID) -> User | None:
        with self._lock:
            return self._users.get(user_id)

    def workspace(self, workspace_id: UUID) -> Workspace:
        with self._lock:
            return self._workspaces[workspace_id]

    def members(self, workspace_id: UUID) -> list[User]:
        """The workspace's users, oldest first (the owner among the first)."""
        with self._lock:
            found = [u for u in self._users.values() if u.workspace_id == workspace_id]
        return sorted(found, key=lambda u: (u.workspace_role != OWNER, u.created_at))

    def workspaces(self) -> list[tuple[Workspace, int]]:
        """This partner app's workspaces with their number of users, oldest first."""
        with self._lock:
            counted = [
                (ws, sum(u.workspace_id == ws.id for u in self._users.values()))
                for ws in self._workspaces.values()
                if ws.client_id == self.client_id
            ]
        return sorted(counted, key=lambda pair: pair[0].created_at)

    # Internals: callers hold the lock

    def _user_by_email(self, email: str) -> User | None:
        # A user's id is derived from their email (``_create``): a lookup, whatever their number.
        return self._users.get(uuid.uuid5(_IDS, f"user:{email}"))

    def _create_personal(self, email: str, name: str | None) -> User:
        email = normalize(email)
        name = name or name_from_email(email)
        workspace = Workspace(
            id=uuid.uuid5(_IDS, f"workspace:{email}"),
            name=f"{name.split(' ', 1)[0]}'s Workspace",
            created_at=self._clock(),
            client_id=self.client_id,
        )
        self._workspaces[workspace.id] = workspace
        return self._create(email, name, workspace.id, OWNER)

    def _create(self, email: str, name: str | None, workspace_id: UUID, role: str) -> User:
        email = normalize(email)
        user_id = uuid.uuid5(_IDS, f"user:{email}")
        user = User(
            id=user_id,
            email=email,
            name=name or name_from_email(email),
            created_at=self._clock(),
            workspace_id=workspace_id,
            workspace_role=role,
            plan_type="PRO",
            timezone=_TIMEZONES[user_id.int % len(_TIMEZONES)],
            locale="en-US",
        )
        self._users[user.id] = user
        return user


def _with(user: User, role: str, plan_type: str, timezone: str | None) -> User:
    return replace(
        user, workspace_role=role, plan_type=plan_type, timezone=timezone or user.timezone
    )

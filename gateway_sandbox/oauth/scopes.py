"""The scopes Contio knows and how a requested scope string is read."""

from __future__ import annotations

# What the consent page tells the user each scope allows.
DESCRIPTIONS = {
    "openid": "Confirm who you are",
    "profile": "See your name, email and workspace",
    "email": "See your email address",
    "meetings:read": "Read your meetings",
    "meetings:write": "Create and change your meetings",
    "action-items:read": "Read your action items",
    "action-items:write": "Create and change your action items",
    "calendar:read": "Read your calendar events",
    "calendar:write": "Link your calendar events to meetings",
    "context:read": "Read documents attached to your meetings",
    "context:write": "Upload documents to your meetings",
    "chat:read": "Read your assistant chats",
    "chat:write": "Chat with the assistant on your behalf",
    "toolkits:read": "See the toolkits of your workspace",
    "toolkits:write": "Install toolkits in your workspace",
    "workflows:read": "See your workflow runs",
    "workflows:write": "Start workflow runs",
}
SUPPORTED = tuple(DESCRIPTIONS)

# Contio calls the parameter optional without saying what an empty one grants; the sandbox grants
# the sign-in scopes only, so a caller who wants data has to ask for it.
DEFAULT = ("openid", "profile")


class UnknownScope(ValueError):
    """The requested scope string names a scope Contio does not have."""


def parse(scope: str | None, separator: str = " ") -> tuple[str, ...]:
    """Requested scopes, in request order and without repeats; ``DEFAULT`` when none are given.

    ``separator`` is what the emulated provider puts between scopes (a space, or Slack's comma).
    """
    parts = (scope or "").split() if separator == " " else (scope or "").split(separator)
    requested = tuple(dict.fromkeys(part for part in parts if part))
    unknown = [name for name in requested if name not in DESCRIPTIONS]
    if unknown:
        raise UnknownScope(f"Unknown scope: {' '.join(unknown)}")
    return requested or DEFAULT

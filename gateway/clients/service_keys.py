"""Service keys: ``gw_`` plus 256 random bits; stored as a SHA-256 hash under a short lookup prefix.

A fast hash is enough: the key is random, not a password, so there is nothing to brute-force.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

KEY_PREFIX = "gw_"
LOOKUP_PREFIX_LENGTH = 11  # "gw_" and 8 random characters: shown to operators, indexed


@dataclass(frozen=True)
class StoredKey:
    """A key as the database holds it: its lookup prefix and its hash, never the key."""

    lookup_prefix: str
    key_hash: str


@dataclass(frozen=True)
class IssuedKey:
    key: str
    lookup_prefix: str
    key_hash: str

    def __repr__(self) -> str:
        return f"IssuedKey(lookup_prefix={self.lookup_prefix!r}, key=***)"

    @property
    def stored(self) -> StoredKey:
        return StoredKey(self.lookup_prefix, self.key_hash)


def issue_key() -> IssuedKey:
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    return IssuedKey(key=key, lookup_prefix=key[:LOOKUP_PREFIX_LENGTH], key_hash=hash_key(key))


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def lookup_prefix(key: str) -> str | None:
    """The prefix to look the key up by, or None when it cannot be one of ours."""
    if not key.startswith(KEY_PREFIX) or len(key) <= LOOKUP_PREFIX_LENGTH or len(key) > 128:
        return None
    return key[:LOOKUP_PREFIX_LENGTH]


def key_matches(key: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_key(key), stored_hash)

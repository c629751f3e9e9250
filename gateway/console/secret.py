"""The keys that sign console sessions, derived from the encryption key ring with HKDF.

The console has no secret setting of its own, hence no default that could reach production: every key
of the ring yields a signing key under a label used for nothing else, and the active one signs. Like
the ring, any key verifies, so sessions survive a rotation run by the runbook (add the key everywhere,
then make it active); a session signed under a key later dropped from the ring ends, unless a page view
has re-signed it under the active key since.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from gateway.settings import Settings

LABEL = b"gateway console session signing v1"


@dataclass(frozen=True)
class SigningKeys:
    keys: dict[str, bytes]
    active: str

    def __repr__(self) -> str:
        return f"SigningKeys(key_ids={sorted(self.keys)!r}, active={self.active!r}, keys=***)"

    def sign(self, key_id: str, message: bytes) -> bytes | None:
        """The MAC of ``message`` under ``key_id``; None when that key is not in the ring."""
        key = self.keys.get(key_id)
        return hmac.new(key, message, hashlib.sha256).digest() if key is not None else None


def derive(ikm: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=LABEL).derive(ikm)


def signing_keys(settings: Settings, active_key_id: str) -> SigningKeys:
    """One signing key per key of ``GATEWAY_ENCRYPTION_KEYS`` (already validated by the key ring)."""
    assert settings.encryption_keys is not None
    keys: dict[str, bytes] = {}
    for entry in settings.encryption_keys.get_secret_value().split(","):
        key_id, _, encoded = entry.strip().partition(":")
        if key_id:
            keys[key_id] = derive(base64.b64decode(encoded))
    return SigningKeys(keys, active_key_id)

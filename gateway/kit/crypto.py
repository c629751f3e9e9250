"""Envelope encryption for secrets at rest: AES-256-GCM under a key ring.

A sealed value is text ``v1.<key_id>.<base64url(nonce || ciphertext || tag)>``: the format version and
key id travel with the ciphertext, so any key of the ring can open it and a rotation can find the rows
still sealed under an old key. Every value is sealed with associated data naming its table, column and
row, so a ciphertext copied into another row or column fails to open.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

FORMAT_VERSION = "v1"
KEY_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]+$")
KEY_BYTES = 32
NONCE_BYTES = 12


class KeyRingError(Exception):
    """Raised when the key ring settings are malformed."""


class DecryptionError(Exception):
    """Raised when a sealed value cannot be opened: unknown key, wrong row, or tampering."""


@dataclass(frozen=True)
class Binding:
    """Where a sealed value lives; becomes the AEAD associated data."""

    table: str
    column: str
    row_id: str

    def associated_data(self) -> bytes:
        return f"{FORMAT_VERSION}|{self.table}|{self.column}|{self.row_id}".encode()


class KeyRing:
    """Every key opens; the active key seals. Keys never appear in repr or str."""

    def __init__(self, keys: dict[str, bytes], active_key_id: str) -> None:
        if active_key_id not in keys:
            raise KeyRingError(f"active key {active_key_id!r} is not in the key ring")
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self.active_key_id = active_key_id

    def __repr__(self) -> str:
        return (
            f"KeyRing(key_ids={sorted(self._ciphers)!r}, active={self.active_key_id!r}, keys=***)"
        )

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(self._ciphers)

    @classmethod
    def parse(cls, spec: str, active_key_id: str | None = None) -> KeyRing:
        """Build a ring from ``id:base64key,id2:base64key``; the first key is active by default."""
        keys: dict[str, bytes] = {}
        for entry in (part.strip() for part in spec.split(",")):
            if not entry:
                continue
            key_id, sep, encoded = entry.partition(":")
            if not sep or not KEY_ID_PATTERN.match(key_id):
                raise KeyRingError(
                    "each encryption key must look like KEY_ID:BASE64 with KEY_ID of [A-Za-z0-9_-]"
                )
            if key_id in keys:
                raise KeyRingError(f"encryption key id {key_id!r} appears twice")
            try:
                key = base64.b64decode(encoded, validate=True)
            except binascii.Error as exc:
                raise KeyRingError(f"encryption key {key_id!r} is not valid base64") from exc
            if len(key) != KEY_BYTES:
                raise KeyRingError(f"encryption key {key_id!r} must be {KEY_BYTES} bytes")
            keys[key_id] = key
        if not keys:
            raise KeyRingError("no encryption key given")
        return cls(keys, active_key_id or next(iter(keys)))

    def seal(self, plaintext: str, binding: Binding) -> str:
        nonce = os.urandom(NONCE_BYTES)
        cipher = self._ciphers[self.active_key_id]
        sealed = cipher.encrypt(nonce, plaintext.encode(), binding.associated_data())
        payload = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
        return f"{FORMAT_VERSION}.{self.active_key_id}.{payload}"

    def open(self, sealed: str, binding: Binding) -> str:
        version, key_id, payload = _split(sealed)
        if version != FORMAT_VERSION:
            raise DecryptionError(f"unknown ciphertext format {version!r}")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise DecryptionError(f"ciphertext uses key {key_id!r}, which is not in the key ring")
        try:
            raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
            plaintext = cipher.decrypt(
                raw[:NONCE_BYTES], raw[NONCE_BYTES:], binding.associated_data()
            )
        except (InvalidTag, binascii.Error, ValueError) as exc:
            raise DecryptionError("ciphertext does not open for this row and column") from exc
        return plaintext.decode()

    @staticmethod
    def key_id_of(sealed: str) -> str:
        return _split(sealed)[1]


def _split(sealed: str) -> tuple[str, str, str]:
    parts = sealed.split(".")
    if len(parts) != 3:
        raise DecryptionError("malformed ciphertext")
    return parts[0], parts[1], parts[2]


def generate_key_entry(key_id: str) -> str:
    """A fresh ``KEY_ID:BASE64`` entry for ``GATEWAY_ENCRYPTION_KEYS``."""
    if not KEY_ID_PATTERN.match(key_id):
        raise KeyRingError("key id must match [A-Za-z0-9_-]+")
    return f"{key_id}:{base64.b64encode(os.urandom(KEY_BYTES)).decode()}"

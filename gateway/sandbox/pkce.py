"""PKCE (RFC 7636), S256 only: the one method Contio accepts."""

from __future__ import annotations

import hashlib
import hmac
import re

from gateway.sandbox.jwt import b64url

# A S256 challenge is an unpadded base64url SHA-256 digest: always 43 characters.
_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")
_VERIFIER = re.compile(r"[A-Za-z0-9._~-]{43,128}")


def s256(verifier: str) -> str:
    return b64url(hashlib.sha256(verifier.encode("ascii")).digest())


def is_valid_challenge(challenge: str) -> bool:
    return _CHALLENGE.fullmatch(challenge) is not None


def verify(challenge: str, verifier: str) -> bool:
    if _VERIFIER.fullmatch(verifier) is None:
        return False
    return hmac.compare_digest(s256(verifier), challenge)

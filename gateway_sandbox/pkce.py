"""PKCE (RFC 7636), S256 only: the one method Contio accepts."""

from __future__ import annotations

import hashlib
import hmac
import re

from gateway_sandbox.jwt import b64url

# A S256 challenge is an unpadded base64url SHA-256 digest: always 43 characters.
_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")
_VERIFIER = re.compile(r"[A-Za-z0-9._~-]{43,128}")


def s256(verifier: str) -> str:
    return b64url(hashlib.sha256(verifier.encode("ascii")).digest())


def is_valid_challenge(challenge: str) -> bool:
    return _CHALLENGE.fullmatch(challenge) is not None


def problem(challenge: str | None, verifier: str | None) -> str | None:
    """Why the token request's verifier fails the authorization request's challenge, if it does.

    PKCE is optional, but a verifier for a code issued without a challenge is refused, so PKCE
    cannot be downgraded (RFC 9700 §2.1.1).
    """
    if challenge is None:
        return None if verifier is None else "code_verifier sent, but no code_challenge was."
    if verifier is None:
        return "code_verifier is required for this authorization code."
    if _VERIFIER.fullmatch(verifier) is None or not hmac.compare_digest(s256(verifier), challenge):
        return "code_verifier does not match the code challenge."
    return None

"""Random values of the authorization request: PKCE verifier and challenge (RFC 7636), state, nonce."""

from __future__ import annotations

import secrets

from authlib.oauth2.rfc7636 import create_s256_code_challenge

# 48 random bytes give a 64-character verifier, inside RFC 7636's 43..128 range.
VERIFIER_BYTES = 48
STATE_BYTES = 32


def new_code_verifier() -> str:
    return secrets.token_urlsafe(VERIFIER_BYTES)


def code_challenge(verifier: str) -> str:
    """The S256 challenge of ``verifier``."""
    challenge: str = create_s256_code_challenge(verifier)
    return challenge


def new_state() -> str:
    return secrets.token_urlsafe(STATE_BYTES)


def new_nonce() -> str:
    return secrets.token_urlsafe(STATE_BYTES)

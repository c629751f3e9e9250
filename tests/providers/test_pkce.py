"""Random values of the authorization request."""

from __future__ import annotations

import re

from gateway.providers import code_challenge, new_code_verifier, new_nonce, new_state

UNRESERVED = re.compile(r"[A-Za-z0-9\-._~]+")


def test_verifier_is_within_rfc7636_bounds() -> None:
    verifier = new_code_verifier()
    assert 43 <= len(verifier) <= 128
    assert UNRESERVED.fullmatch(verifier)


def test_challenge_is_s256_of_the_verifier() -> None:
    # RFC 7636 Appendix B
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert code_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_state_and_nonce_are_fresh_each_time() -> None:
    assert len({new_state() for _ in range(50)}) == 50
    assert len({new_nonce() for _ in range(50)}) == 50
    assert len(new_state()) >= 43

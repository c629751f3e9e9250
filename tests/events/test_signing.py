"""Standard Webhooks signing: what a receiver verifies, across a secret rotation."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from gateway.events import signing

OLD = "whsec_" + base64.b64encode(b"o" * 32).decode()
NEW = "whsec_" + base64.b64encode(b"n" * 32).decode()
NOW = 1_800_000_000
BODY = b'{"data":{},"timestamp":"2027-01-15T08:00:00.000Z","type":"connection.created"}'


def signed(*secrets: str, timestamp: int = NOW) -> dict[str, str]:
    return signing.headers(signing.parse_secrets(secrets), "evt-1", timestamp, BODY)


def test_a_signature_verifies_with_its_secret() -> None:
    signing.verify([NEW], signed(NEW), BODY, now=NOW)


def test_headers_carry_id_timestamp_and_one_v1_signature_per_secret() -> None:
    headers = signed(NEW, OLD)
    assert headers["webhook-id"] == "evt-1"
    assert headers["webhook-timestamp"] == str(NOW)
    parts = headers["webhook-signature"].split(" ")
    assert len(parts) == 2 and all(part.startswith("v1,") for part in parts)


@pytest.mark.parametrize("receiver_secret", [OLD, NEW])
def test_during_a_rotation_either_secret_verifies(receiver_secret: str) -> None:
    signing.verify([receiver_secret], signed(NEW, OLD), BODY, now=NOW)


def test_the_signature_matches_the_standard_webhooks_reference() -> None:
    # The example from the Standard Webhooks specification's reference libraries.
    key = signing.parse_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    body = b'{"test": 2432232314}'
    content = signing.signed_content("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
    assert key.sign(content) == "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_a_wrong_secret_does_not_verify() -> None:
    with pytest.raises(signing.SignatureError):
        signing.verify([OLD], signed(NEW), BODY, now=NOW)


def test_a_changed_body_does_not_verify() -> None:
    with pytest.raises(signing.SignatureError):
        signing.verify([NEW], signed(NEW), BODY + b" ", now=NOW)


def test_an_old_timestamp_does_not_verify() -> None:
    with pytest.raises(signing.SignatureError, match="tolerance"):
        signing.verify([NEW], signed(NEW, timestamp=NOW - 301), BODY, now=NOW)


def test_missing_headers_do_not_verify() -> None:
    with pytest.raises(signing.SignatureError, match="missing"):
        signing.verify([NEW], {}, BODY, now=NOW)


@pytest.mark.parametrize(
    ("secret", "problem"),
    [
        ("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "must start with"),
        ("whsec_not base64!", "base64"),
        ("whsec_" + base64.b64encode(b"short").decode(), "at least 24 bytes"),
    ],
)
def test_a_malformed_secret_is_refused_with_a_reason(secret: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        signing.parse_secret(secret)


def test_keys_never_print_their_secret() -> None:
    assert repr(signing.parse_secret(NEW)) == "SigningKey(***)"


def test_the_body_has_type_rfc3339_timestamp_and_data() -> None:
    occurred = datetime(2027, 1, 15, 8, 0, 0, 123456, tzinfo=UTC)
    body = signing.payload("connection.revoked", occurred, {"connection_id": "c"})
    assert body == (
        b'{"data":{"connection_id":"c"},"timestamp":"2027-01-15T08:00:00.123Z",'
        b'"type":"connection.revoked"}'
    )

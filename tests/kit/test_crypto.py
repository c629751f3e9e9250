import base64

import pytest

from gateway.kit.crypto import Binding, DecryptionError, KeyRing, KeyRingError, generate_key_entry

ROW = Binding("connections", "access_token", "row-1")


def ring(*entries: str, active: str | None = None) -> KeyRing:
    return KeyRing.parse(",".join(entries), active)


def test_sealed_value_opens_with_the_same_binding() -> None:
    keys = ring(generate_key_entry("a"))
    assert keys.open(keys.seal("cto_at_v1_secret", ROW), ROW) == "cto_at_v1_secret"


def test_sealed_value_records_format_and_key_id_but_not_the_plaintext() -> None:
    keys = ring(generate_key_entry("a"))
    sealed = keys.seal("cto_at_v1_secret", ROW)
    assert sealed.startswith("v1.a.")
    assert "secret" not in sealed


def test_ciphertext_copied_to_another_row_does_not_open() -> None:
    keys = ring(generate_key_entry("a"))
    sealed = keys.seal("token", ROW)
    with pytest.raises(DecryptionError):
        keys.open(sealed, Binding("connections", "access_token", "row-2"))


def test_ciphertext_copied_to_another_column_does_not_open() -> None:
    keys = ring(generate_key_entry("a"))
    sealed = keys.seal("token", ROW)
    with pytest.raises(DecryptionError):
        keys.open(sealed, Binding("connections", "refresh_token", "row-1"))


def test_tampered_ciphertext_does_not_open() -> None:
    keys = ring(generate_key_entry("a"))
    sealed = keys.seal("token", ROW)
    flipped = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    with pytest.raises(DecryptionError):
        keys.open(flipped, ROW)


def test_every_key_opens_but_only_the_active_key_seals() -> None:
    old, new = generate_key_entry("old"), generate_key_entry("new")
    before = ring(old)
    sealed_by_old = before.seal("token", ROW)
    during = ring(old, new, active="new")
    assert during.open(sealed_by_old, ROW) == "token"
    assert KeyRing.key_id_of(during.seal("token", ROW)) == "new"


def test_first_key_is_active_by_default() -> None:
    assert ring(generate_key_entry("first"), generate_key_entry("second")).active_key_id == "first"


def test_value_sealed_under_an_unknown_key_fails_clearly() -> None:
    sealed = ring(generate_key_entry("gone")).seal("token", ROW)
    with pytest.raises(DecryptionError, match="not in the key ring"):
        ring(generate_key_entry("other")).open(sealed, ROW)


@pytest.mark.parametrize(
    "spec",
    [
        "",
        "nocolon",
        "bad id:" + base64.b64encode(b"x" * 32).decode(),
        "k:" + base64.b64encode(b"short").decode(),
        "k:not-base64!",
        "k:{0},k:{0}".format(base64.b64encode(b"x" * 32).decode()),
    ],
)
def test_malformed_key_ring_is_refused(spec: str) -> None:
    with pytest.raises(KeyRingError):
        KeyRing.parse(spec)


def test_active_key_must_be_in_the_ring() -> None:
    with pytest.raises(KeyRingError, match="not in the key ring"):
        ring(generate_key_entry("a"), active="b")


def test_repr_never_shows_key_material() -> None:
    entry = generate_key_entry("a")
    assert entry.split(":", 1)[1] not in repr(ring(entry))

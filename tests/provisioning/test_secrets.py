"""The flow's secrets (the provider's session, the code, the page token, the tokens) stay out of the
database, except sealed, and out of the logs."""

from __future__ import annotations

import logging
import re
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from gateway.kit.crypto import KeyRing
from gateway.kit.db import Database
from gateway.provisioning import store
from tests.e2e.test_secrets import dump_every_table
from tests.provisioning.conftest import ProvisioningStack
from tests.provisioning.flows import latest_code, load, new_user, started, verify

TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d(:\d\d)?|Z)?")


def provider_sessions(pstack: ProvisioningStack, email: str) -> list[str]:
    """The session strings the sandbox gave out for ``email`` (read from its insides: no API
    shows them, which is the point)."""
    challenges = pstack.sandbox_store.challenges._challenges
    return [session for session, c in challenges.items() if c.email == email]


async def test_no_secret_of_the_flow_is_in_the_database_or_the_logs(
    gw: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    key: str,
    db: Database,
    pstack: ProvisioningStack,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="gateway")
    user_id, email = new_user()
    begun = await started(gw, key, user_id=user_id, email=email)
    page_token = parse_qs(urlsplit(begun["verify_url"]).query)["token"][0]
    (session,) = provider_sessions(pstack, email)
    code = await latest_code(sandbox, email)
    # The page is opened too, so that its URL (with the token) reaches the access log.
    assert (
        await gw.get(urlsplit(begun["verify_url"]).path, params={"token": page_token})
    ).is_success
    sealed_before = (await load(db, begun["id"])).provider_session
    assert (await verify(gw, key, begun["id"], wrong_then(code))).status_code == 400
    assert (await verify(gw, key, begun["id"], code)).status_code == 200

    dump = TIMESTAMP.sub("", await dump_every_table(db))
    issued = pstack.sandbox_store.issued_tokens()
    gateway_logs = "\n".join(
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("gateway.") and "sandbox" not in r.name
    )
    assert issued, "the sandbox issued no tokens: the test would prove nothing"
    assert begun["id"] in dump and begun["id"] in gateway_logs, "the test would prove nothing"
    for secret in [session, page_token, *issued]:
        assert secret not in dump
        assert secret not in gateway_logs
    for text in (dump, gateway_logs):
        assert not re.search(rf"(?<![\w-]){code}(?![\w-])", text)
        assert not re.search(rf"(?<![\w-]){wrong_then(code)}(?![\w-])", text)
    # While it was needed, the session was kept sealed, bound to its row.
    keys = KeyRing.parse(pstack.settings.encryption_keys.get_secret_value())  # type: ignore[union-attr]
    assert sealed_before is not None and sealed_before.startswith("v1.")
    held = await load(db, begun["id"])
    held.provider_session = sealed_before
    assert store.provider_session(keys, held) == session


def wrong_then(code: str) -> str:
    return f"{(int(code) + 7) % 1_000_000:06d}"

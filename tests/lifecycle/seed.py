"""Connecting users in bulk without a browser: the code flow against the sandbox (auto-approve)
through the gateway's own provider client, then the grant stored as the callback stores it.

The tokens are the sandbox's real ones, so its rotation and reuse detection apply to them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping

import httpx

from gateway.connections.store import save_grant
from gateway.kit.crypto import KeyRing
from gateway.kit.db import Database
from gateway.providers import pkce
from gateway.providers.client import OAuthClient
from gateway.providers.registry import build_registry
from gateway.providers.spender import OPERATOR
from gateway.settings import load_settings
from tests.e2e.flows import query

CONCURRENCY = 8


class Seeder:
    """Connects users as a gateway configured with ``gateway_env`` would."""

    def __init__(self, gateway_env: Mapping[str, str], db: Database) -> None:
        self._settings = load_settings(environ=gateway_env)
        assert self._settings.encryption_keys is not None
        self._keys = KeyRing.parse(self._settings.encryption_keys.get_secret_value())
        self._db = db

    async def connect(self, user_ids: Iterable[str]) -> None:
        """Connect each user (or re-authorize them: their connection keeps its id)."""
        gate = asyncio.Semaphore(CONCURRENCY)
        async with httpx.AsyncClient(timeout=30, trust_env=False) as http:
            provider = build_registry(self._settings, http).get("contio")

            async def one(user_id: str) -> None:
                async with gate:
                    await self._connect(http, provider, user_id)

            await asyncio.gather(*(one(user_id) for user_id in user_ids))

    async def _connect(self, http: httpx.AsyncClient, provider: OAuthClient, user_id: str) -> None:
        redirect_uri = self._settings.redirect_uri
        verifier, nonce = pkce.new_code_verifier(), pkce.new_nonce()
        authorize = await provider.authorization_url(
            redirect_uri=redirect_uri,
            state=pkce.new_state(),
            code_challenge=pkce.code_challenge(verifier),
            nonce=nonce,
            login_hint=f"{user_id}@example.com",
        )
        approved = await http.get(authorize)
        assert approved.status_code == 302, approved.text
        code = query(approved.headers["location"])["code"]
        tokens = await provider.exchange_code(
            code=code, redirect_uri=redirect_uri, code_verifier=verifier, spender=OPERATOR
        )
        subject = await provider.subject(tokens, nonce=nonce, spender=OPERATOR)
        async with self._db.transaction() as session:
            await save_grant(
                session,
                self._keys,
                user_id=user_id,
                provider=provider.name,
                subject=subject,
                tokens=tokens,
                client_id=None,
                settings=self._settings,
            )

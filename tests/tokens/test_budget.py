"""The token-endpoint budget: one sliding window per provider in PostgreSQL, shared by every replica."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import delete, select

from gateway import composition
from gateway.kit.crypto import KeyRing
from gateway.kit.db import Database
from gateway.models import OutboxEvent, TokenBudgetWindow
from gateway.providers.errors import GrantRejected
from gateway.providers.registry import build_registry
from gateway.providers.spender import OPERATOR, REFRESHER, Spender
from gateway.settings import Settings, SettingsError
from gateway.tokens.batch import within_budget
from gateway.tokens.budget import (
    BudgetExhausted,
    Rate,
    ShareExhausted,
    TokenBudget,
    Usage,
    rate_variable,
)
from tests.e2e.flows import connect_new_user, load_connection, proxy_get
from tests.fixtures.stack import Stack


def provider() -> str:
    return f"p{uuid.uuid4().hex[:10]}"


def budget_for(
    db: Database, name: str, rate: str, reserve: float = 0.1, **shares: object
) -> TokenBudget:
    settings = Settings.model_validate({"token_rate_reserve": reserve, **shares})
    return TokenBudget(db, settings, {rate_variable(name): rate})


NO_RESERVES = {"token_rate_refresher_reserve": 0, "token_rate_operator_reserve": 0}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("100/300s", Rate(100, 300)),
        ("100/300", Rate(100, 300)),
        ("100 / 5m", Rate(100, 300)),
        ("3600/1h", Rate(3600, 3600)),
    ],
)
def test_rates_are_parsed(text: str, expected: Rate) -> None:
    assert Rate.parse(text, name="X") == expected


@pytest.mark.parametrize("text", ["", "100", "0/300s", "100/0s", "100/5d", "ten/300s", "-1/300s"])
def test_malformed_rates_name_the_variable(text: str) -> None:
    with pytest.raises(SettingsError, match="GATEWAY_CONTIO_TOKEN_RATE"):
        Rate.parse(text, name="GATEWAY_CONTIO_TOKEN_RATE")


def test_the_variable_is_named_after_the_provider() -> None:
    assert rate_variable("contio") == "GATEWAY_CONTIO_TOKEN_RATE"
    assert rate_variable("my-crm.eu") == "GATEWAY_MY_CRM_EU_TOKEN_RATE"


def test_contio_takes_its_rate_from_settings_and_others_are_unlimited(db: Database) -> None:
    token_budget = TokenBudget(db, Settings(contio_token_rate="100/300s"), {})
    assert token_budget.rate("contio") == Rate(100, 300)
    assert token_budget.rate("github") is None


def test_capacity_at_contios_limit_is_about_twenty_thousand_connections() -> None:
    # Each connection refreshes once per 0.75 x 24 h; the budget pays for so many a day.
    per_connection_per_day = 24 / (0.75 * 24)
    assert 19_000 < Rate(100, 300).daily_requests() / per_connection_per_day < 22_000


async def test_spending_stops_at_the_limit_and_says_when_to_come_back(db: Database) -> None:
    name = provider()
    token_budget = budget_for(db, name, "3/300s", **NO_RESERVES)
    for _ in range(3):
        await token_budget.spend(name, OPERATOR)
    with pytest.raises(BudgetExhausted) as refused:
        await token_budget.spend(name, OPERATOR)
    assert refused.value.status_code == 503
    assert refused.value.code == "token_budget_exhausted"
    assert refused.value.retry_after is not None
    assert 270 <= refused.value.retry_after <= 331
    usage = await token_budget.usage(name)
    assert usage is not None and usage.used == 3


async def test_replicas_share_one_budget_under_concurrency(db: Database) -> None:
    name = provider()
    replicas = [budget_for(db, name, "10/300s", **NO_RESERVES) for _ in range(3)]

    async def attempt(token_budget: TokenBudget) -> bool:
        try:
            await token_budget.spend(name, OPERATOR)
        except BudgetExhausted:
            return False
        return True

    admitted = await asyncio.gather(*(attempt(replicas[i % 3]) for i in range(25)))
    assert sum(admitted) == 10


async def test_the_refresher_leaves_the_reserve_to_callers(db: Database) -> None:
    name = provider()
    token_budget = budget_for(db, name, "10/300s", reserve=0.3, **NO_RESERVES)
    for _ in range(7):
        await token_budget.spend(name, REFRESHER)
    with pytest.raises(BudgetExhausted):
        await token_budget.spend(name, REFRESHER)
    assert await token_budget.available(name, REFRESHER) == 0
    assert await token_budget.available(name, OPERATOR) == 3
    for _ in range(3):
        await token_budget.spend(name, OPERATOR)
    with pytest.raises(BudgetExhausted):
        await token_budget.spend(name, OPERATOR)


async def test_a_client_stops_at_its_share_on_every_replica_and_says_so(db: Database) -> None:
    name = provider()
    a, b = Spender.client(uuid.uuid4()), Spender.client(uuid.uuid4())
    replicas = [budget_for(db, name, "10/300s", token_rate_client_share=0.3) for _ in range(2)]
    for i in range(3):
        await replicas[i % 2].spend(name, a)
    for token_budget in replicas:
        with pytest.raises(ShareExhausted) as refused:
            await token_budget.spend(name, a)
        assert refused.value.status_code == 429
        assert refused.value.code == "token_budget_share_exhausted"
        assert refused.value.details is not None
        share = refused.value.details["share"]
        assert (share["spender"], share["limit"], share["used"], share["window_seconds"]) == (
            a.key,
            3,
            3,
            300,
        )
        assert share["resets_at"]
        assert refused.value.retry_after is not None and 270 <= refused.value.retry_after <= 331
    await replicas[1].spend(name, b)  # another client's share is untouched
    await replicas[0].spend(name, REFRESHER)
    await replicas[0].spend(name, OPERATOR)


async def test_clients_together_never_eat_the_refreshers_or_operators_reserve(
    db: Database,
) -> None:
    name = provider()
    token_budget = budget_for(
        db,
        name,
        "10/300s",
        token_rate_client_share=0.5,
        token_rate_refresher_reserve=0.3,
        token_rate_operator_reserve=0.2,
    )
    clients = [Spender.client(uuid.uuid4()) for _ in range(3)]
    for spender in clients[:2]:
        for _ in range(2 if spender == clients[1] else 3):
            await token_budget.spend(name, spender)
    with pytest.raises(BudgetExhausted) as refused:
        await token_budget.spend(name, clients[2])
    assert not isinstance(refused.value, ShareExhausted)
    assert refused.value.status_code == 503
    for _ in range(3):
        await token_budget.spend(name, REFRESHER)
    for _ in range(2):
        await token_budget.spend(name, OPERATOR)
    assert await token_budget.available(name, OPERATOR) == 0


async def test_an_unlimited_provider_spends_nothing(db: Database) -> None:
    name = provider()
    token_budget = budget_for(db, name, "")
    await token_budget.spend(name, OPERATOR)
    assert await token_budget.available(name, REFRESHER) is None
    assert await token_budget.usage(name) is None


async def test_the_loop_takes_the_nearest_expiries_the_budget_can_pay_for(db: Database) -> None:
    limited, unlimited = provider(), provider()
    token_budget = budget_for(db, limited, "4/300s", reserve=0.25)  # the refresher may spend 3
    await token_budget.spend(limited, REFRESHER)
    due = [(f"c{i}", limited) for i in range(4)] + [("u1", unlimited), ("u2", unlimited)]
    # ``due`` is ordered nearest expiry first, as the loop's query returns it.
    assert await within_budget(token_budget, due) == ["c0", "c1", "u1", "u2"]  # type: ignore[arg-type]
    assert await within_budget(None, due) == [c for c, _ in due]  # type: ignore[arg-type]


async def test_units_taken_ahead_are_counted_once_and_spent_from_credit(db: Database) -> None:
    name = provider()
    token_budget = budget_for(db, name, "4/300s", reserve=0.25)  # the refresher may spend 3
    assert await token_budget.take(name, REFRESHER, 5) == 3
    assert (await token_budget.usage(name)) == Usage(name, Rate(4, 300), 3)
    for _ in range(3):
        await token_budget.spend(name, REFRESHER)  # from the credit: nothing counted again
    assert (await token_budget.usage(name)) == Usage(name, Rate(4, 300), 3)
    with pytest.raises(ShareExhausted):
        await token_budget.spend(name, REFRESHER)


async def test_credit_given_up_stays_counted(db: Database) -> None:
    name = provider()
    token_budget = budget_for(db, name, "4/300s", reserve=0.25)
    assert await token_budget.take(name, REFRESHER, 2) == 2
    token_budget.forfeit(name, REFRESHER)
    await token_budget.spend(name, REFRESHER)
    assert (await token_budget.usage(name)) == Usage(name, Rate(4, 300), 3)
    assert await token_budget.take(name, REFRESHER, 1) == 0


@pytest.fixture
async def contio_budget_cleared(db: Database) -> AsyncIterator[None]:
    async with db.transaction() as session:
        await session.execute(
            delete(TokenBudgetWindow).where(TokenBudgetWindow.provider == "contio")
        )
    yield
    async with db.transaction() as session:
        await session.execute(
            delete(TokenBudgetWindow).where(TokenBudgetWindow.provider == "contio")
        )


async def test_an_exhausted_budget_defers_a_refresh_without_counting_a_failure(
    http: httpx.AsyncClient,
    service_key: str,
    db: Database,
    stack: Stack,
    contio_budget_cleared: None,
) -> None:
    user_id = await connect_new_user(http, service_key)
    before = await load_connection(db, user_id)
    settings = stack.settings.model_copy(update={"contio_token_rate": "2/300s"})
    assert settings.encryption_keys is not None
    keys = KeyRing.parse(settings.encryption_keys.get_secret_value())
    calls_before = stack.sandbox_store.stats()["refresh_calls"]
    async with httpx.AsyncClient(timeout=10) as provider_http:
        refresher = composition.refresher(settings, db, keys, provider_http, environ={})
        assert refresher.budget is not None
        await refresher.budget.spend("contio", OPERATOR)
        await refresher.budget.spend("contio", OPERATOR)
        with pytest.raises(BudgetExhausted):
            await refresher.refresh(before.id, spender=REFRESHER)

    after = await load_connection(db, user_id)
    assert stack.sandbox_store.stats()["refresh_calls"] == calls_before
    assert (after.token_version, after.consecutive_failures, after.last_refresh_error) == (
        before.token_version,
        0,
        None,
    )
    async with db.transaction() as session:
        events = await session.scalars(
            select(OutboxEvent.type).where(
                OutboxEvent.data["connection_id"].astext == str(before.id)
            )
        )
        assert list(events) == ["connection.created"]
    # The token is still valid, so the user's calls keep working meanwhile.
    assert (await proxy_get(http, service_key, user_id, "/meetings")).status_code == 200


class CountingGate:
    def __init__(self, admit: bool) -> None:
        self.admit = admit
        self.spent: list[tuple[str, str]] = []

    async def spend(self, provider: str, spender: Spender) -> None:
        self.spent.append((provider, spender.key))
        if not self.admit:
            raise BudgetExhausted("spent", provider=provider, retry_after=30)


async def test_every_oauth_endpoint_request_spends_its_callers_share(stack: Stack) -> None:
    gate = CountingGate(admit=True)
    client = Spender.client(uuid.uuid4())
    async with httpx.AsyncClient(timeout=10) as provider_http:
        contio = build_registry(stack.settings, provider_http, gate=gate).get("contio")
        await contio.revoke("not-a-token", "refresh_token", spender=OPERATOR)
        await contio.introspect("not-a-token", spender=REFRESHER)
        with pytest.raises(GrantRejected):
            await contio.refresh("not-a-token", spender=client)
    assert gate.spent == [("contio", "operator"), ("contio", "refresher"), ("contio", client.key)]


async def test_a_refused_request_never_reaches_the_provider(stack: Stack) -> None:
    gate = CountingGate(admit=False)
    before = stack.sandbox_store.stats()
    async with httpx.AsyncClient(timeout=10) as provider_http:
        contio = build_registry(stack.settings, provider_http, gate=gate).get("contio")
        for call in (
            contio.refresh("not-a-token", spender=REFRESHER),
            contio.revoke("not-a-token", "refresh_token", spender=OPERATOR),
            contio.exchange_code(
                code="c", redirect_uri="http://x/cb", code_verifier="v" * 43, spender=OPERATOR
            ),
        ):
            with pytest.raises(BudgetExhausted):
                await call
    assert stack.sandbox_store.stats() == before

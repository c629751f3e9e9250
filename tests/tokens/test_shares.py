"""How one provider's budget is divided: the refresher, operators and each service client."""

from __future__ import annotations

import uuid

import pytest
from pydantic import ValidationError

from gateway.providers.spender import OPERATOR, REFRESHER, Spender
from gateway.settings import Settings
from gateway.tokens.shares import ShareRules, Verdict

A = Spender.client(uuid.uuid4())
B = Spender.client(uuid.uuid4())
RULES = ShareRules(
    refresher_cap=0.9, refresher_reserve=0.25, operator_reserve=0.1, client_share=0.2
)


def test_each_client_may_spend_its_share_of_the_window() -> None:
    assert RULES.cap(A, 100) == 20
    assert RULES.verdict(A, 100, {A.key: 19}) is Verdict.ADMIT
    assert RULES.verdict(A, 100, {A.key: 20}) is Verdict.SHARE_SPENT
    assert RULES.room(A, 100, {A.key: 15}) == 5


def test_one_client_at_its_share_leaves_the_others_theirs() -> None:
    used = {A.key: 20}
    assert RULES.verdict(A, 100, used) is Verdict.SHARE_SPENT
    assert RULES.verdict(B, 100, used) is Verdict.ADMIT
    assert RULES.room(B, 100, used) == 20
    assert RULES.verdict(REFRESHER, 100, used) is Verdict.ADMIT
    assert RULES.verdict(OPERATOR, 100, used) is Verdict.ADMIT


def test_clients_together_stop_short_of_the_refreshers_and_operators_reserves() -> None:
    clients = {Spender.client(uuid.uuid4()).key: 13 for _ in range(5)}  # 65 of 100
    newcomer = Spender.client(uuid.uuid4())
    assert RULES.verdict(newcomer, 100, clients) is Verdict.BUDGET_SPENT
    assert RULES.room(REFRESHER, 100, clients) == 25
    assert RULES.room(OPERATOR, 100, clients) == 10


def test_a_reserve_its_owner_has_spent_is_not_kept_twice() -> None:
    used = {REFRESHER.key: 40, A.key: 20, B.key: 20}
    # The refresher spent past its 25: only the operators' 10 is still kept.
    assert RULES.room(Spender.client(uuid.uuid4()), 100, used) == 10
    assert RULES.room(OPERATOR, 100, used) == 20


def test_the_refresher_leaves_what_it_must_to_callers() -> None:
    assert RULES.cap(REFRESHER, 100) == 90
    assert RULES.verdict(REFRESHER, 100, {REFRESHER.key: 90}) is Verdict.SHARE_SPENT
    assert RULES.room(A, 100, {REFRESHER.key: 90}) == 0  # the operators' 10 is kept
    assert RULES.room(OPERATOR, 100, {REFRESHER.key: 90}) == 10


def test_operators_are_limited_only_by_the_window_and_the_refreshers_reserve() -> None:
    assert RULES.room(OPERATOR, 100, {}) == 75
    assert RULES.verdict(OPERATOR, 100, {OPERATOR.key: 75}) is Verdict.BUDGET_SPENT


def test_a_client_of_its_own_share_overrides_the_default() -> None:
    rules = ShareRules(client_share=0.2, client_shares={A.client_id: 0.5})  # type: ignore[dict-item]
    assert rules.cap(A, 100) == 50
    assert rules.cap(B, 100) == 20


def test_a_cap_is_at_least_one_request_and_reserves_round_down() -> None:
    assert RULES.cap(A, 3) == 1
    assert RULES.reserve(REFRESHER, 3) == 0
    assert RULES.verdict(A, 3, {}) is Verdict.ADMIT


def test_shares_come_from_settings() -> None:
    client = uuid.uuid4()
    settings = Settings.model_validate(
        {"token_rate_client_share": 0.1, "token_rate_client_shares": f"{client}=0.4"}
    )
    rules = ShareRules.of(settings)
    assert rules.cap(Spender.client(client), 100) == 40
    assert rules.cap(A, 100) == 10
    assert rules.cap(REFRESHER, 100) == 90


@pytest.mark.parametrize(
    "values",
    [
        {"token_rate_refresher_reserve": 0.6, "token_rate_operator_reserve": 0.4},
        {"token_rate_reserve": 0.5, "token_rate_refresher_reserve": 0.6},
        {"token_rate_client_shares": "not-a-pair"},
        {"token_rate_client_shares": f"{uuid.uuid4()}=1.5"},
        {"token_rate_client_share": 0},
    ],
)
def test_contradictory_shares_are_refused(values: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Settings.model_validate(values)

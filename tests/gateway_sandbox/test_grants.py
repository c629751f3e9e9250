"""The sandbox's grants and tokens, found by token, by grant and by user: each lookup reaches the
records asked for alone, however many others there are."""

from __future__ import annotations

import uuid

from gateway_sandbox.state.grants import Grants
from gateway_sandbox.state.records import Grant, IssuedToken


def grant_of(user_id: uuid.UUID) -> Grant:
    return Grant(uuid.uuid4(), "client", user_id, ("openid",), 0.0)


def token_of(grant: Grant, name: str, kind: str = "refresh_token") -> IssuedToken:
    return IssuedToken(name, kind, grant.id, 0.0, 60.0)


def test_a_users_grants_and_their_tokens_are_theirs_alone() -> None:
    grants = Grants()
    ann, bob = uuid.uuid4(), uuid.uuid4()
    first, second, others = grant_of(ann), grant_of(ann), grant_of(bob)
    for grant in (first, others, second):
        grants.add(grant)
    for grant, name in ((first, "a1"), (others, "b1"), (second, "a2"), (first, "a3")):
        grants.add_token(token_of(grant, name))

    assert grants.of_user(ann) == [first, second]
    assert grants.of_user(uuid.uuid4()) == []
    assert [t.token for t in grants.tokens_of(grants.of_user(ann))] == ["a1", "a3", "a2"]
    assert grants.get(others.id) is others
    assert sorted(grants.token_strings()) == ["a1", "a2", "a3", "b1"]


def test_a_forgotten_token_is_found_nowhere() -> None:
    grants = Grants()
    grant = grant_of(uuid.uuid4())
    grants.add(grant)
    grants.add_token(token_of(grant, "access", "access_token"))
    grants.add_token(token_of(grant, "refresh"))

    grants.forget_token("refresh")

    assert grants.token("refresh") is None
    assert [t.token for t in grants.tokens_of([grant])] == ["access"]
    assert grants.token_strings() == ["access"]

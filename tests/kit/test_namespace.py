import uuid

import pytest

from gateway.clients.store import Principal
from gateway.kit.namespace import PatternError, UserNamespace


def test_an_unrestricted_client_may_act_for_anyone() -> None:
    namespace = UserNamespace()
    assert namespace.unrestricted
    assert namespace.admits_user_id("anyone")


def test_a_pattern_must_match_the_whole_user_id() -> None:
    namespace = UserNamespace(user_pattern=r"billing-\d+")
    assert namespace.admits_user_id("billing-42")
    assert not namespace.admits_user_id("billing-42x")
    assert not namespace.admits_user_id("xbilling-42")


def test_a_confined_client_lives_in_its_own_space_and_others_share_one() -> None:
    confined, shared = uuid.uuid4(), uuid.uuid4()
    assert principal(confined, UserNamespace(own_users_only=True)).space == confined
    assert principal(shared, UserNamespace(user_pattern="b-.*")).space is None


def principal(client_id: uuid.UUID, namespace: UserNamespace) -> Principal:
    return Principal(client_id, "svc", frozenset({"connect"}), (), namespace)


@pytest.mark.parametrize("pattern", ["", "(", "x" * 201])
def test_unusable_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(PatternError):
        UserNamespace(user_pattern=pattern)

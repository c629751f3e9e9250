import uuid

import pytest

from gateway.clients.namespace import PatternError, UserNamespace


def test_an_unrestricted_client_may_act_for_anyone() -> None:
    namespace = UserNamespace()
    assert namespace.unrestricted
    assert namespace.admits_user_id("anyone")
    assert namespace.admits_connection(uuid.uuid4(), None)


def test_a_pattern_must_match_the_whole_user_id() -> None:
    namespace = UserNamespace(user_pattern=r"billing-\d+")
    assert namespace.admits_user_id("billing-42")
    assert not namespace.admits_user_id("billing-42x")
    assert not namespace.admits_user_id("xbilling-42")


def test_own_users_only_admits_the_connections_the_client_created() -> None:
    me, other = uuid.uuid4(), uuid.uuid4()
    namespace = UserNamespace(own_users_only=True)
    assert namespace.admits_connection(me, me)
    assert not namespace.admits_connection(me, other)
    assert not namespace.admits_connection(me, None), "an imported or legacy connection is no one's"


@pytest.mark.parametrize("pattern", ["", "(", "x" * 201])
def test_unusable_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(PatternError):
        UserNamespace(user_pattern=pattern)

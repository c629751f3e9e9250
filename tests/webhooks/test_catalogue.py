"""Contio's event catalogue in the gateway, and the include-filter subscriptions call for."""

from __future__ import annotations

import pytest

from gateway.webhooks.catalogue import CONTIO_EVENT_TYPES, FAMILIES, contio_filter_for
from gateway_sandbox.state.event_catalogue import EVENT_TYPES, family

MEETING = [
    "meeting.completed",
    "meeting.context.created",
    "meeting.context.deleted",
    "meeting.context.processed",
    "meeting.created",
    "meeting.updated",
]


def test_the_gateway_and_the_sandbox_know_the_same_35_types() -> None:
    assert len(CONTIO_EVENT_TYPES) == 35 == len(set(CONTIO_EVENT_TYPES))
    assert sorted(CONTIO_EVENT_TYPES) == sorted(EVENT_TYPES)


def test_each_family_holds_the_types_named_after_it() -> None:
    for name, types in FAMILIES.items():
        assert {family(t) for t in types} == {name}


def test_no_subscription_asks_for_connection_revocations_alone() -> None:
    assert contio_filter_for([]) == ["user.connection.revoked"]


def test_an_exact_name_asks_for_that_type() -> None:
    assert contio_filter_for(["provider.contio.meeting.completed"]) == [
        "meeting.completed",
        "user.connection.revoked",
    ]


def test_a_family_pattern_asks_for_the_whole_family() -> None:
    assert contio_filter_for(["provider.contio.meeting.*"]) == [
        *MEETING,
        "user.connection.revoked",
    ]


@pytest.mark.parametrize("pattern", ["provider.*", "provider.contio.*", "*"])
def test_a_wide_pattern_asks_for_every_type(pattern: str) -> None:
    assert contio_filter_for([pattern]) == sorted(CONTIO_EVENT_TYPES)


@pytest.mark.parametrize(
    "pattern",
    [
        "connection.*",
        "connection.revoked",
        "meeting.completed",
        "provider.slack.*",
        "provider.contio.meeting",
        "provider.contio.meeting.exploded",
        "provider.contio.meet*",
    ],
)
def test_patterns_that_name_no_contio_type_ask_for_nothing_more(pattern: str) -> None:
    assert contio_filter_for([pattern]) == ["user.connection.revoked"]


def test_several_patterns_are_merged_without_duplicates_and_sorted() -> None:
    wanted = contio_filter_for(
        (
            "provider.contio.participant.*",
            "provider.contio.action_item.completed",
            "provider.contio.participant.added",
            "provider.contio.user.connection.revoked",
        )
    )

    assert wanted == [
        "action_item.completed",
        "participant.added",
        "participant.removed",
        "user.connection.revoked",
    ]

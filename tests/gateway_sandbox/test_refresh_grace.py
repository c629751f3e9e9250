"""The optional grace interval in which a just-rotated refresh token replays its successor pair."""

from __future__ import annotations

import pytest

from tests.gateway_sandbox.conftest import SandboxFactory
from tests.gateway_sandbox.driver import FakeClock, Sandbox


@pytest.fixture
def graced(start_sandbox: SandboxFactory) -> Sandbox:
    return start_sandbox(refresh_reuse_grace=10)


def test_within_the_grace_the_old_refresh_token_replays_the_same_pair(graced: Sandbox) -> None:
    first = graced.tokens_for("ann@example.com")
    second = graced.refresh(first["refresh_token"]).json()

    replay = graced.refresh(first["refresh_token"])

    assert replay.status_code == 200
    assert replay.json()["access_token"] == second["access_token"]
    assert replay.json()["refresh_token"] == second["refresh_token"]


def test_a_replay_is_not_a_new_rotation(graced: Sandbox) -> None:
    first = graced.tokens_for("ann@example.com")
    second = graced.refresh(first["refresh_token"]).json()
    graced.refresh(first["refresh_token"])

    assert graced.refresh(second["refresh_token"]).status_code == 200
    assert len(graced.store.issued_tokens()) == 6
    assert graced.store.stats()["refresh_replays"] == 1
    assert graced.store.stats()["reuse_detections"] == 0


def test_after_the_grace_reuse_is_detected_and_revokes_the_grant(
    graced: Sandbox, clock: FakeClock
) -> None:
    first = graced.tokens_for("ann@example.com")
    second = graced.refresh(first["refresh_token"]).json()
    clock.advance(10)

    assert graced.refresh(first["refresh_token"]).json()["error"] == "invalid_grant"
    assert graced.refresh(second["refresh_token"]).json()["error"] == "invalid_grant"
    assert graced.store.stats()["reuse_detections"] == 1


def test_once_the_successor_rotated_the_old_token_is_reuse(graced: Sandbox) -> None:
    first = graced.tokens_for("ann@example.com")
    second = graced.refresh(first["refresh_token"]).json()
    graced.refresh(second["refresh_token"])

    assert graced.refresh(first["refresh_token"]).json()["error"] == "invalid_grant"


def test_without_a_grace_reuse_is_detected_at_once(sandbox: Sandbox) -> None:
    first = sandbox.tokens_for("ann@example.com")
    sandbox.refresh(first["refresh_token"])

    assert sandbox.refresh(first["refresh_token"]).json()["error"] == "invalid_grant"
    assert sandbox.store.stats()["reuse_detections"] == 1

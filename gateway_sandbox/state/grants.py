"""The grants and the tokens they issued, found by token, by grant and by user in constant time
whatever their number (a benchmark keeps a million): the store's records, without a lock of their
own (the store's guards them)."""

from __future__ import annotations

from uuid import UUID

from gateway_sandbox.state.records import Grant, IssuedToken


class Grants:
    def __init__(self) -> None:
        self._grants: dict[UUID, Grant] = {}
        self._tokens: dict[str, IssuedToken] = {}
        self._by_user: dict[UUID, list[Grant]] = {}
        # A grant's tokens by their string (a dict keeps their order of issue).
        self._by_grant: dict[UUID, dict[str, IssuedToken]] = {}

    def add(self, grant: Grant) -> None:
        self._grants[grant.id] = grant
        self._by_user.setdefault(grant.user_id, []).append(grant)
        self._by_grant[grant.id] = {}

    def get(self, grant_id: UUID) -> Grant:
        return self._grants[grant_id]

    def of_user(self, user_id: UUID) -> list[Grant]:
        return list(self._by_user.get(user_id, ()))

    def add_token(self, token: IssuedToken) -> None:
        self._tokens[token.token] = token
        self._by_grant[token.grant_id][token.token] = token

    def forget_token(self, token: str) -> None:
        record = self._tokens.pop(token)
        del self._by_grant[record.grant_id][token]

    def token(self, token: str) -> IssuedToken | None:
        return self._tokens.get(token)

    def tokens_of(self, grants: list[Grant]) -> list[IssuedToken]:
        """Every token ``grants`` issued, each grant's in the order of issue."""
        return [token for grant in grants for token in self._by_grant[grant.id].values()]

    def token_strings(self) -> list[str]:
        return list(self._tokens)

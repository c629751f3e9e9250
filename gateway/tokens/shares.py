"""How one provider's token-endpoint budget is divided between those who spend it (pure arithmetic).

Within a window of ``limit`` requests:

- the **refresher** may spend at most ``1 - token_rate_reserve`` of it (the rest is left to callers)
  and has ``token_rate_refresher_reserve`` of it kept for itself;
- **operators** (admin API, console, CLI) have ``token_rate_operator_reserve`` kept for themselves;
- each **service client** may spend at most its share (``token_rate_client_share``, or its own
  entry in ``token_rate_client_shares``), and has nothing kept for it.

A request is admitted when its spender is under its own cap and, after it, the unspent part of every
*other* spender's reserve still fits in the window. So one client's connects, provisionings or
forced refreshes stop at its share; all clients together never eat the refresher's or the operators'
reserve; and the refresher never takes what it leaves to callers. Caps and reserves are rounded
down, but a cap is at least one request.
"""

from __future__ import annotations

import enum
import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

from gateway.providers.spender import OPERATOR, REFRESHER, Spender, SpenderKind
from gateway.settings import Settings


class Verdict(enum.Enum):
    ADMIT = "admit"
    SHARE_SPENT = "share_spent"  # the spender's own cap is reached
    BUDGET_SPENT = "budget_spent"  # the window is full, counting others' unspent reserves


@dataclass(frozen=True)
class ShareRules:
    refresher_cap: float = 0.9
    refresher_reserve: float = 0.25
    operator_reserve: float = 0.1
    client_share: float = 0.2
    client_shares: Mapping[uuid.UUID, float] = field(default_factory=dict)

    @classmethod
    def of(cls, settings: Settings) -> ShareRules:
        return cls(
            refresher_cap=1 - settings.token_rate_reserve,
            refresher_reserve=settings.token_rate_refresher_reserve,
            operator_reserve=settings.token_rate_operator_reserve,
            client_share=settings.token_rate_client_share,
            client_shares=dict(settings.token_rate_client_shares),
        )

    def cap(self, spender: Spender, limit: int) -> int:
        """The most ``spender`` may spend in a window of ``limit``."""
        if spender.kind is SpenderKind.REFRESHER:
            fraction = self.refresher_cap
        elif spender.kind is SpenderKind.OPERATOR:
            fraction = 1.0
        else:
            assert spender.client_id is not None
            fraction = self.client_shares.get(spender.client_id, self.client_share)
        return max(1, math.floor(limit * fraction))

    def reserve(self, spender: Spender, limit: int) -> int:
        """What is kept for ``spender`` alone in a window of ``limit``."""
        if spender.kind is SpenderKind.REFRESHER:
            return math.floor(limit * self.refresher_reserve)
        if spender.kind is SpenderKind.OPERATOR:
            return math.floor(limit * self.operator_reserve)
        return 0

    def room(self, spender: Spender, limit: int, used: Mapping[str, int]) -> int:
        """How many requests ``spender`` may make now, given what each spender (by key) has used."""
        own = self.cap(spender, limit) - used.get(spender.key, 0)
        kept = sum(
            max(0, self.reserve(other, limit) - used.get(other.key, 0))
            for other in (REFRESHER, OPERATOR)
            if other != spender
        )
        free = limit - sum(used.values()) - kept
        return max(0, min(own, free))

    def verdict(self, spender: Spender, limit: int, used: Mapping[str, int]) -> Verdict:
        cap = self.cap(spender, limit)
        if cap < limit and used.get(spender.key, 0) >= cap:
            return Verdict.SHARE_SPENT
        if self.room(spender, limit, used) == 0:
            return Verdict.BUDGET_SPENT
        return Verdict.ADMIT

"""Short-lived in-process caches, and the PostgreSQL channels that keep them honest.

``LocalCache``: entries live ``ttl`` seconds at most, and together weigh at most ``max_bytes``: each
entry's weight (``weigh``, an estimate of the memory it holds) is worked out once, at ``put``, and a
put that would go over the bound sheds the least recently used entries first, so a process's memory
follows the bound and not the number of users it serves. "Recently used" is kept cheaply: entries
are held in the order they were put, and a read moves its entry to the newest end only once the
entry has stayed where it is for half the time the cache takes to shed as many entries as it holds
(by then it is in the older half), found by the comparison that finds its expiry. Most reads of a
busy entry thus move nothing, yet a busy entry is never the oldest when the cache sheds (under a
skewed mix of users, shedding the oldest put would shed the busiest users too, and read them again).
Every replica drops an entry within moments of the row behind it changing, because PostgreSQL tells
it (the process's ``gateway.kit.feed``); while the feed is down the cache serves nothing
(``suspend``), and when it is back the cache starts empty (``resume``), so no change made in between
is missed. The TTL is the backstop for a connection that died without anyone noticing.

A reader that missed must not put back a value read before an invalidation it raced with: it takes
``epoch`` before reading the database and ``put`` refuses the value if any invalidation came since.

In a cache made with ``renews`` (the token cache), an entry that is read often need never be
missed: from a random moment between ``RENEW_FROM`` and ``RENEW_TO`` of its TTL, ``lookup`` asks
one reader (and only one) to read it again in the background while everyone goes on being served
the entry. Entries put together (a burst of new users, a replica starting) are thus renewed spread
out, never all missed at once.
"""

from __future__ import annotations

import itertools
import math
import random
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

MAX_BYTES = 64 * 2**20
# What an entry of unknown shape is taken to weigh: the dict slot, the entry's tuple and a small value.
ENTRY_BYTES = 512
# A full cache sheds this share of its entries at once (``_shed``).
SHED_SHARE = 1 / 64
RENEW_FROM = 0.6
RENEW_TO = 0.9


class LocalCache(Generic[K, V]):
    def __init__(
        self,
        ttl: float,
        *,
        max_bytes: int = MAX_BYTES,
        weigh: Callable[[K, V], int] = lambda _key, _value: ENTRY_BYTES,
        clock: Callable[[], float] = time.monotonic,
        renews: bool = False,
    ) -> None:
        self.ttl = ttl
        self._renews = renews
        self.max_bytes = max_bytes
        self._weigh = weigh
        self._clock = clock
        # key -> (due, renew from, value, weight, expires at). A read looks closer only once its
        # entry is due (one comparison, as for an expiry alone): at its expiry, or before, once it
        # has been where it is for ``_move_after`` seconds (``_due``).
        self._entries: dict[K, tuple[float, float, V, int, float]] = {}
        # Half the time a full cache takes to shed as many entries as it holds (measured at each
        # shedding); the TTL until it first sheds (nothing is shed, so nothing needs moving).
        self._move_after = ttl
        self._shed_at: float | None = None
        self.bytes = 0  # the weights of the entries held
        self.epoch = 0
        self.live = False

    def __len__(self) -> int:
        return len(self._entries)

    # ``get`` and ``lookup`` are each written out in full, sharing no helper on a hit: both are on
    # every proxied call's path (``docs/performance.md``).

    def get(self, key: K) -> V | None:
        """The value while the cache serves and the entry has not expired (an expired one goes),
        else None; a renewing cache's readers use ``lookup``."""
        found = self._entries.get(key) if self.live else None
        if found is None:
            return None
        if found[0] <= self._clock():
            return self._due(key, found)
        return found[2]

    def lookup(self, key: K) -> tuple[V | None, bool]:
        """``get``'s value (or None), and whether this reader should renew it: true for one reader
        once the entry is past its renewal moment."""
        found = self._entries.get(key) if self.live else None
        if found is None:
            return None, False
        due, renew_from, value, weight, expires = found
        now = self._clock()
        if due <= now:
            if self._due(key, found) is None:
                return None, False
            due = self._entries[key][0]
        if renew_from <= now:
            self._entries[key] = (due, math.inf, value, weight, expires)
            return value, True
        return value, False

    def _due(self, key: K, found: tuple[float, float, V, int, float]) -> V | None:
        """An entry read once due: gone if it has expired, else moved to the newest end (keeping
        its expiry), so that a full cache sheds the entries read least recently first."""
        del self._entries[key]
        _, renew_from, value, weight, expires = found
        now = self._clock()
        if expires <= now:
            self.bytes -= weight
            return None
        due = min(expires, now + self._move_after)
        self._entries[key] = (due, renew_from, value, weight, expires)
        return value

    def put(self, key: K, value: V, epoch: int) -> None:
        """Keep ``value``, read when the cache was at ``epoch``, unless anything changed since."""
        if not self.live or epoch != self.epoch or self.ttl <= 0:
            return
        weight = self._weigh(key, value)
        if weight > self.max_bytes:
            return
        replaced = self._entries.pop(key, None)
        if replaced is not None:
            self.bytes -= replaced[3]
        while self.bytes + weight > self.max_bytes:
            self._shed()
        now = self._clock()
        renew_from = (
            now + self.ttl * random.uniform(RENEW_FROM, RENEW_TO)  # noqa: S311 (spread)
            if self._renews
            else math.inf
        )
        expires = now + self.ttl
        due = min(expires, now + self._move_after)
        self._entries[key] = (due, renew_from, value, weight, expires)
        self.bytes += weight

    def _shed(self) -> None:
        """Drop the oldest entries (dicts keep insertion order: what was put, or last moved,
        longest ago): a ``SHED_SHARE`` of them, at least one, in one pass. Finding a dict's first
        entry skips every slot deleted before it (until the dict is next resized), so shedding one
        entry per put would cost a scan of thousands of slots each time a full cache is put to."""
        held = len(self._entries)
        count = max(1, int(held * SHED_SHARE))
        for key in list(itertools.islice(self._entries, count)):
            self.bytes -= self._entries.pop(key)[3]
        now = self._clock()
        if self._shed_at is not None:
            # An entry left unread while the cache sheds half as many entries as it holds is in
            # the older half by then: a read of it moves it.
            self._move_after = min(self.ttl, (now - self._shed_at) * held / 2 / count)
        self._shed_at = now

    def invalidate(self, key: K) -> None:
        found = self._entries.pop(key, None)
        if found is not None:
            self.bytes -= found[3]
        self.epoch += 1

    def invalidate_where(self, stale: Callable[[V], bool]) -> None:
        for key in [key for key, (_, _, value, _, _) in self._entries.items() if stale(value)]:
            self.bytes -= self._entries.pop(key)[3]
        self.epoch += 1

    def clear(self) -> None:
        self._entries.clear()
        self.bytes = 0
        self.epoch += 1

    def suspend(self) -> None:
        """Stop serving: changes can no longer be heard of."""
        self.live = False
        self.clear()

    def resume(self) -> None:
        """Serve again, from empty: changes are heard of again."""
        self.clear()
        self.live = True


# The channels the caches' invalidations arrive on (through ``gateway.kit.feed``): triggers on
# ``connections`` and ``service_clients`` (migration 0005) and on ``delegated_keys``
# (``20261207_managed``) ``NOTIFY`` on commit whenever a token, a status, a client or a delegated key
# changes, whoever wrote it.
CONNECTION_CHANNEL = "gateway_connection_changed"
CLIENT_CHANNEL = "gateway_service_client_changed"
DELEGATED_KEY_CHANNEL = "gateway_delegated_key_changed"

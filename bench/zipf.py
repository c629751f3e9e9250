"""The users a Zipf mix calls: user ``k`` of ``n`` with probability proportional to ``1 / k**s``
(a few users make most calls, a long tail the rest, as on a large service). ``bench/lua/zipf.lua``
draws them the same way in wrk: the cumulative table built once, a binary search per request."""

from __future__ import annotations

import bisect
import random
from collections.abc import Sequence

EXPONENT = 1.1


def cdf(n: int, s: float = EXPONENT) -> list[float]:
    """``table[k - 1]``: the probability that the user drawn is one of users 1 to ``k``."""
    table = []
    total = 0.0
    for k in range(1, n + 1):
        total += k**-s
        table.append(total)
    return [value / total for value in table]


def pick(table: Sequence[float], u: float) -> int:
    """The user (1 to n) a uniform draw ``u`` in [0, 1) stands for."""
    return min(bisect.bisect_right(table, u), len(table) - 1) + 1


def draws(table: Sequence[float], count: int, seed: int = 1) -> list[int]:
    chance = random.Random(seed)  # noqa: S311 (a load mix, not a secret)
    return [pick(table, chance.random()) for _ in range(count)]


def share_of_top(table: Sequence[float], k: int) -> float:
    """The share of calls users 1 to ``k`` make."""
    return table[min(k, len(table)) - 1]

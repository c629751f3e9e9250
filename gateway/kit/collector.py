"""How a long-running gateway process runs Python's cyclic garbage collector.

What a process has imported and built by the time it starts serving (modules, mappers, settings,
registries, pools) lives as long as the process: ``tune_collector`` moves it out of the collector's
reach (``gc.freeze``), so a full pass no longer walks it and stalls every request and refresh in
flight while it runs. It also collects the youngest generation every ``YOUNG_GENERATION_THRESHOLD``
allocations instead of Python's 700: a call's or a refresh's short-lived objects are then gone by
the time a pass comes, instead of being promoted and swept by full passes
(``docs/performance.md``).
"""

from __future__ import annotations

import gc

YOUNG_GENERATION_THRESHOLD = 50_000


def tune_collector() -> None:
    """Call once the process has built what it serves with, before it serves."""
    gc.freeze()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD)

"""How many provider calls a refresher cycle has in flight."""

from __future__ import annotations

import asyncio


class CallSlots:
    """A cycle's provider calls in flight, at most ``size``: a slot is held from the call's start
    until its answer (or failure) is in, not while the outcome is written."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.busy = 0
        self._freed = asyncio.Event()

    @property
    def free(self) -> int:
        return self.size - self.busy

    def take(self) -> Slot:
        self.busy += 1
        return Slot(self)

    def give(self) -> None:
        self.busy -= 1
        self._freed.set()

    async def half_free(self) -> None:
        """Return once at least half the slots are free."""
        while self.busy > self.size // 2:
            self._freed.clear()
            await self._freed.wait()


class Slot:
    """One call slot, given back when its ``with`` block is left."""

    def __init__(self, slots: CallSlots) -> None:
        self._slots: CallSlots | None = slots

    def __enter__(self) -> Slot:
        return self

    def __exit__(self, *_: object) -> None:
        if self._slots is not None:
            self._slots.give()
            self._slots = None

"""How many provider calls a refresher cycle has in flight, and how many wait their turn."""

from __future__ import annotations

import asyncio

# Rounds of calls a cycle has pending at most: the round in flight and those claimed behind it.
QUEUED_ROUNDS = 3


class CallSlots:
    """A cycle's provider calls: at most ``size`` in flight, the others claimed for the next rounds
    waiting their turn in the order they were queued (first come, first served). A slot is held from
    the call's start until its answer (or failure) is in, not while the outcome is written.

    A cycle queues at most ``room`` at a time: ``pending`` (queued, not yet answered) never exceeds
    ``QUEUED_ROUNDS * size``, so a queued call waits behind at most the rounds before it: it starts
    within two calls' time (the longest a token request may take, twice, far under the lease),
    and a claim made once a round has been answered has a round's calls' time to come back before
    a slot would wait for it."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.pending = 0
        self._slots = asyncio.Semaphore(size)
        self._ended = asyncio.Event()

    @property
    def room(self) -> int:
        """How many more calls may be queued now."""
        return QUEUED_ROUNDS * self.size - self.pending

    def queue(self) -> Slot:
        """A place in line for one call; ``async with`` it around the call."""
        self.pending += 1
        return Slot(self)

    async def round_ended(self) -> None:
        """Return once a round has room among the pending: the next round may be queued."""
        while self.pending > (QUEUED_ROUNDS - 1) * self.size:
            self._ended.clear()
            await self._ended.wait()

    async def start(self) -> None:
        """Wait for a free slot, in turn, and take it."""
        try:
            await self._slots.acquire()
        except BaseException:
            self.end(started=False)
            raise

    def end(self, *, started: bool = True) -> None:
        """A queued call is done: answered (its slot given back), or cancelled in line."""
        if started:
            self._slots.release()
        self.pending -= 1
        self._ended.set()


class Slot:
    """One call's place: its turn waited for when its ``async with`` block is entered, given
    back when it is left (or when the wait is cancelled)."""

    def __init__(self, slots: CallSlots) -> None:
        self._slots = slots

    async def __aenter__(self) -> Slot:
        await self._slots.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        self._slots.end()

"""Several processes serving the same listening sockets, kept running by a supervisor.

The caller binds the sockets and builds nothing else that a child must not share (no event loop,
no thread, no database connection); ``Supervisor.run`` then forks one process per slot. Each
child inherits the sockets, and the kernel hands every new connection to one of the children
waiting on it. The supervisor itself serves nothing (it keeps the sockets open only to give them
to the children it starts); it only waits on its children:

- a child that exits after it became ready (it called ``ready``) is replaced by a new child in the
  same slot, whatever the cause (a crash, SIGKILL, the out-of-memory killer); one that lived less
  than ``SHORT_LIFE_SECONDS`` is replaced that long later, so a child that keeps crashing is
  restarted at that pace rather than in a tight loop;
- a child that exits before it became ready failed to start (bad settings, no database): the
  supervisor stops the others and ``run`` returns 1, so a service manager sees the failure instead
  of a loop of restarts;
- SIGTERM or SIGINT: every child is sent SIGTERM (each finishes what is in flight and exits), the
  supervisor closes its copies of the sockets, so that new connections are refused once every
  child has closed its own, and ``run`` returns 0 once all have exited; SIGHUP is passed on to
  every child.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import FrameType

log = logging.getLogger(__name__)

READY = b"r"
HANDLED = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}
SHORT_LIFE_SECONDS = 1.0


@dataclass(frozen=True)
class Slot:
    """A child's place: ``number`` in 1..``count``, kept by the child that replaces it."""

    number: int
    count: int


# What a child runs: its slot and the function to call once it serves; returns its exit status.
Child = Callable[[Slot, Callable[[], None]], int]


@dataclass
class _Running:
    slot: Slot
    ready_pipe: int  # the read end; the child writes READY once it serves
    started: float  # time.monotonic() at the fork


class Supervisor:
    def __init__(self, count: int, sockets: Sequence[socket.socket], child: Child) -> None:
        if count < 1:
            raise ValueError("a supervisor needs at least one child")
        self.count = count
        self._sockets = sockets
        self._child = child
        self._running: dict[int, _Running] = {}
        self._stopping = False

    def run(self) -> int:
        """Fork the children and keep them running until SIGTERM or SIGINT (see the module)."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_stop)
        signal.signal(signal.SIGHUP, self._on_hangup)
        failed = False
        for number in range(1, self.count + 1):
            self._spawn(Slot(number, self.count))
        while self._running:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            running = self._running.pop(pid, None)
            if running is None:
                continue
            was_ready = _was_ready(running.ready_pipe)
            if self._stopping:
                continue
            if not was_ready:
                log.error(
                    "serving process %d of %d (pid %d) failed to start (%s): stopping the others",
                    running.slot.number,
                    self.count,
                    pid,
                    _describe(status),
                )
                failed = True
                self.stop()
                continue
            log.warning(
                "serving process %d of %d (pid %d) ended (%s): starting another in its place",
                running.slot.number,
                self.count,
                pid,
                _describe(status),
            )
            if time.monotonic() - running.started < SHORT_LIFE_SECONDS:
                time.sleep(SHORT_LIFE_SECONDS)
                if self._stopping:
                    continue
            self._spawn(running.slot)
        return 1 if failed else 0

    def stop(self) -> None:
        """Ask every child to finish (SIGTERM) and replace none of them."""
        self._stopping = True
        self._signal_all(signal.SIGTERM)
        for listening in self._sockets:
            listening.close()

    def _on_stop(self, signum: int, frame: FrameType | None) -> None:
        self.stop()

    def _on_hangup(self, signum: int, frame: FrameType | None) -> None:
        self._signal_all(signal.SIGHUP)

    def _signal_all(self, signum: signal.Signals) -> None:
        for pid in list(self._running):
            with contextlib.suppress(ProcessLookupError):  # already gone: os.wait reports it
                os.kill(pid, signum)

    def _spawn(self, slot: Slot) -> None:
        read_end, write_end = os.pipe()
        # Held until each side has its own handlers: a child must never run the supervisor's.
        signal.pthread_sigmask(signal.SIG_BLOCK, HANDLED)
        pid = os.fork()
        if pid == 0:  # the child: never returns
            os.close(read_end)
            self._become_child(slot, write_end)
        os.close(write_end)
        self._running[pid] = _Running(slot, read_end, time.monotonic())
        signal.pthread_sigmask(signal.SIG_UNBLOCK, HANDLED)
        if self._stopping:  # asked to stop while it was being forked
            os.kill(pid, signal.SIGTERM)

    def _become_child(self, slot: Slot, ready_pipe: int) -> None:
        status = 1
        try:
            # The supervisor's handlers are not the child's: it takes signals as a lone server does.
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.default_int_handler)
            signal.signal(signal.SIGHUP, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, HANDLED)
            for running in self._running.values():
                os.close(running.ready_pipe)
            self._running.clear()

            def ready() -> None:
                os.write(ready_pipe, READY)

            status = self._child(slot, ready)
        except SystemExit as exc:
            status = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            log.exception("serving process %d of %d failed", slot.number, slot.count)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            # Never back into the supervisor's code, nor its exit handlers (the embedded
            # PostgreSQL is stopped by one of them).
            os._exit(status)


def _was_ready(ready_pipe: int) -> bool:
    try:
        os.set_blocking(ready_pipe, False)
        try:
            return os.read(ready_pipe, 1) == READY
        except BlockingIOError:
            return False
    finally:
        os.close(ready_pipe)


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"signal {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"

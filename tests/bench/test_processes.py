"""How the benchmark reads its servers: their output in chunks, their processor time from /proc."""

from __future__ import annotations

import io
import subprocess
import sys
import time

import pytest

from bench.processes import TAIL_LINES, Drain, Service

BUSY_SECONDS = 0.3  # more than two Python start-ups, less than the busy child's work


def drained(chunks: list[bytes]) -> Drain:
    drain = Drain(io.BytesIO())
    for chunk in chunks:
        drain.take(chunk)
    return drain


def test_lines_split_across_chunks_are_counted_once_and_kept_whole() -> None:
    drain = drained([b'{"a": 1}\n{"b"', b": 2}\n{", b'"c": 3}\n'])

    assert drain.lines == 3
    assert drain.bytes == len(b'{"a": 1}\n{"b": 2}\n{"c": 3}\n')
    assert list(drain.tail) == ['{"a": 1}', '{"b": 2}', '{"c": 3}']


def test_only_the_last_lines_are_kept() -> None:
    drain = drained([b"".join(b"line %d\n" % n for n in range(1000))])

    assert drain.lines == 1000
    assert list(drain.tail) == [f"line {n}" for n in range(1000 - TAIL_LINES, 1000)]


def test_a_child_is_read_to_its_end_the_last_line_without_a_newline_too() -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdout.write('x\\n' * 50000 + 'last')"],
        stdout=subprocess.PIPE,
    )
    assert child.stdout is not None
    drain = Drain(child.stdout)
    drain.start()
    drain.join(timeout=30)
    child.wait()

    assert not drain.is_alive()
    assert drain.lines == 50001
    assert drain.tail[-1] == "last"


@pytest.mark.parametrize("busy", [False, True])
def test_a_servers_processor_time_counts_its_children(busy: bool) -> None:
    work = "sum(range(4 * 10**7))" if busy else "pass"  # about half a second, or nothing
    # The parent waits for a child that works (or not): only the child's time can differ.
    code = f"import subprocess, sys; subprocess.run([sys.executable, '-c', '{work}; input()'])"
    parent = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert parent.stdin is not None and parent.stdout is not None
    service = Service("probe", parent, "http://unused", Drain(parent.stdout))
    try:
        seconds = 0.0
        for _ in range(200):  # until the child has done its work (never a fixed sleep)
            seconds = service.cpu_seconds()
            if not busy or seconds >= BUSY_SECONDS:
                break
            time.sleep(0.05)
    finally:
        parent.stdin.close()
        parent.wait()
    assert (seconds >= BUSY_SECONDS) is busy

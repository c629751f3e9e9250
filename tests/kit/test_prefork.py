"""The supervisor of ``gateway serve --workers``, run in a process of its own with children that
misbehave on purpose (the serving children are tested in ``tests/serving``)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

WITHIN = 20.0

PROGRAM = """
import logging, os, signal, sys, time
from pathlib import Path
from gateway.kit.prefork import Supervisor

logging.basicConfig(level=logging.INFO)
MARKS = Path(sys.argv[1])
MODE = sys.argv[2]  # what child 2 does: "fail" to start, "end" once it served, or "serve"


def child(slot, ready):
    if slot.number == 2 and MODE == "fail":
        return 3  # fails before it serves
    signal.signal(signal.SIGHUP, lambda *_: (MARKS / f"hup-{slot.number}").touch())
    ready()
    if slot.number == 2 and MODE == "end" and not (MARKS / "ended").exists():
        (MARKS / "ended").touch()
        return 9  # ends after it served, once
    (MARKS / f"ready-{slot.number}").touch()
    while True:
        time.sleep(1)


sys.exit(Supervisor(2, [], child).run())
"""


def start(marks: Path, mode: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", PROGRAM, str(marks), mode],
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(path: Path) -> None:
    deadline = time.monotonic() + WITHIN
    while not path.exists():
        assert time.monotonic() < deadline, f"no {path.name}"
        time.sleep(0.02)


def test_a_child_that_fails_to_start_stops_the_others_and_the_supervisor(tmp_path: Path) -> None:
    supervisor = start(tmp_path, "fail")
    _out, err = supervisor.communicate(timeout=WITHIN)
    assert supervisor.returncode == 1
    assert "serving process 2 of 2" in err and "failed to start (exit status 3)" in err


def test_sighup_reaches_every_child_and_sigterm_ends_them_all(tmp_path: Path) -> None:
    supervisor = start(tmp_path, "serve")
    try:
        for number in (1, 2):
            wait_for(tmp_path / f"ready-{number}")
        supervisor.send_signal(signal.SIGHUP)
        for number in (1, 2):
            wait_for(tmp_path / f"hup-{number}")
        assert supervisor.poll() is None
        supervisor.send_signal(signal.SIGTERM)
        _out, err = supervisor.communicate(timeout=WITHIN)
        assert supervisor.returncode == 0, err
        assert "starting another" not in err
    finally:
        if supervisor.poll() is None:
            supervisor.kill()


def test_a_child_that_ends_after_it_served_is_replaced(tmp_path: Path) -> None:
    supervisor = start(tmp_path, "end")
    try:
        for number in (1, 2):  # child 2's replacement
            wait_for(tmp_path / f"ready-{number}")
        assert (tmp_path / "ended").exists()
        supervisor.send_signal(signal.SIGTERM)
        _out, err = supervisor.communicate(timeout=WITHIN)
        assert supervisor.returncode == 0, err
        assert "serving process 2 of 2" in err and "(exit status 9): starting another" in err
    finally:
        if supervisor.poll() is None:
            supervisor.kill()

"""A parse child never outlives the service that started it, even when the service is killed with -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from service.config import REPO_ROOT

# A stand-in for the service: it starts a parse child that would run for a minute, reports the
# child's pid, then waits to be killed.
_SERVICE = """
import multiprocessing, threading, time
from service.intake.guard import run_isolated

threading.Thread(target=run_isolated, args=(time.sleep, (60,), 120), daemon=True).start()
while not multiprocessing.active_children():
    time.sleep(0.05)
print(multiprocessing.active_children()[0].pid, flush=True)
time.sleep(120)
"""


def _alive(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status")
    try:
        state = next(line for line in status.read_text().splitlines() if line.startswith("State:"))
    except (FileNotFoundError, ProcessLookupError):
        return False
    return "Z" not in state.split()[1]  # a zombie has already ended


def test_a_parse_child_dies_within_two_seconds_of_a_kill_9_of_its_parent():
    service = subprocess.Popen([sys.executable, "-c", _SERVICE], stdout=subprocess.PIPE, text=True, cwd=REPO_ROOT)
    try:
        child = int(service.stdout.readline())
        time.sleep(0.5)
        assert _alive(child)
        os.kill(service.pid, signal.SIGKILL)
        service.wait(5)
        deadline = time.monotonic() + 2
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(child)
    finally:
        service.kill()
        service.wait(5)

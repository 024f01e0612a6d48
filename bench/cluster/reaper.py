"""Everything the cluster starts is stopped by PID, in reverse order: at the end, on SIGINT or
SIGTERM, and at exit."""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from types import FrameType


def stop_group(process: subprocess.Popen, *, timeout: float = 15) -> None:
    """SIGTERM to the process group `process` leads (it was started in a session of its own),
    SIGKILL to what is left after `timeout`; children that outlived their leader go too."""
    if process.poll() is None:
        _signal_group(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _signal_group(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    _signal_group(process.pid, signal.SIGKILL)


def kill_group(process: subprocess.Popen) -> None:
    """SIGKILL the whole group at once, as a crash of its machine would, and reap the leader."""
    _signal_group(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


class Reaper:
    """Named stop actions, run once each, newest first. A part started again under the same
    name replaces its old action (whose process is gone)."""

    def __init__(self) -> None:
        self._stops: dict[str, Callable[[], None]] = {}
        self._lock = threading.Lock()
        self.log: Callable[[str], None] = lambda message: print(message, file=sys.stderr)

    def add(self, name: str, stop: Callable[[], None]) -> None:
        """Register how to stop `name`."""
        with self._lock:
            self._stops.pop(name, None)
            self._stops[name] = stop

    def add_group(self, name: str, process: subprocess.Popen) -> None:
        """Register a process started with start_new_session=True: its group is stopped."""
        self.add(name, lambda: stop_group(process))

    def stop_all(self) -> None:
        """Run every stop action, newest first; a failing one does not keep the others from
        running."""
        with self._lock:
            stops = list(self._stops.items())
            self._stops.clear()
        for name, stop in reversed(stops):
            try:
                stop()
            except Exception as error:  # noqa: BLE001 - the others must still be stopped
                self.log(f"stopping {name} failed: {type(error).__name__}: {error}")

    def install(self) -> None:
        """SIGINT and SIGTERM unwind the main thread (its finally blocks stop everything);
        atexit catches any other way out."""
        atexit.register(self.stop_all)

        def interrupted(signum: int, frame: FrameType | None) -> None:
            # Once is enough: a second signal during the teardown must not cut it short.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")

        signal.signal(signal.SIGINT, interrupted)
        signal.signal(signal.SIGTERM, interrupted)

"""Keep the stack's children running: start them in order, restart one that exits (with
backoff, the others untouched), stop them in reverse order when a signal asks.

Signals only set a flag (and wake the loop through a pipe): the work of stopping happens in
the main loop, so a signal never lands in the middle of starting a child, and a second one
while stopping only makes the stop quicker (SIGKILL instead of waiting), never shorter.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from irp.stack.errors import StackError, StopRequested
from irp.stack.leftovers import RunRecord
from irp.stack.processes import (
    STOP_TIMEOUT_S,
    Child,
    ProcessSpec,
    group_exists,
    log_line,
    signal_group,
    spawn,
    stop_group,
    tail,
)

FIRST_BACKOFF_S = 1.0
MAX_BACKOFF_S = 30.0
STABLE_AFTER_S = 60.0  # up this long: the next failure is a new story, backoff starts over
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# `kill -TERM -- -PGID` of `make up` reaches irp up twice: directly, and forwarded by `uv run`.
# A repeat this soon after the first signal is that echo, not someone asking to hurry.
REPEAT_AFTER_S = 1.0

Ready = Callable[[Child], bool]
Echo = Callable[[str], None]


@dataclass
class Supervised:
    """One child under supervision and its restart state."""

    spec: ProcessSpec
    log_path: Path
    ready: Ready | None
    child: Child | None = None
    backoff_s: float = FIRST_BACKOFF_S
    restarts: int = 0
    down_since: float | None = None
    restart_at: float | None = None
    coming_back: bool = False
    dead_groups: list[int] = field(default_factory=list)  # of a dead child, not yet empty


class Supervisor:
    """Children in start order; `run()` keeps them up until a stop is requested."""

    def __init__(self, echo: Echo = print, record: RunRecord | None = None) -> None:
        self._echo = echo
        self.record = record
        self.entries: dict[str, Supervised] = {}
        self.stop_reason: str | None = None
        self.hurry = False
        self._first_request = 0.0
        self._wakeup: tuple[int, int] | None = None

    def say(self, text: str) -> None:
        """Print for whoever watches `irp up`; a closed terminal must not break a shutdown."""
        with contextlib.suppress(OSError, ValueError):
            self._echo(text)

    @property
    def children(self) -> list[Child]:
        return [e.child for e in self.entries.values() if e.child is not None]

    # -- signals -----------------------------------------------------------------------

    def request_stop(self, reason: str) -> None:
        """First request: stop cleanly. A later one (not its echo): stop without waiting."""
        now = time.monotonic()
        if self.stop_reason is None:
            self.stop_reason = reason
            self._first_request = now
        elif now - self._first_request >= REPEAT_AFTER_S:
            self.hurry = True
        if self._wakeup is not None:
            with contextlib.suppress(OSError):
                os.write(self._wakeup[1], b"\0")

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.request_stop(signal.Signals(signum).name)

    @contextlib.contextmanager
    def stop_on_signals(self) -> Iterator[None]:
        """While inside, SIGINT, SIGTERM and SIGHUP request a stop instead of raising."""
        if threading.current_thread() is not threading.main_thread() or self._wakeup:
            yield
            return
        read_fd, write_fd = os.pipe()
        os.set_blocking(write_fd, False)
        self._wakeup = (read_fd, write_fd)
        previous = {sig: signal.signal(sig, self._on_signal) for sig in STOP_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self._wakeup = None
            os.close(read_fd)
            os.close(write_fd)

    def pause(self, seconds: float) -> None:
        """Sleep, waking early when a signal arrives."""
        if self._wakeup is None:
            time.sleep(seconds)
            return
        readable, _, _ = select.select([self._wakeup[0]], [], [], seconds)
        if readable:
            with contextlib.suppress(BlockingIOError):
                os.read(self._wakeup[0], 64)

    def check_stop(self) -> None:
        if self.stop_reason is not None:
            raise StopRequested(self.stop_reason)

    # -- starting ----------------------------------------------------------------------

    def start(
        self, spec: ProcessSpec, log_path: Path, ready: Ready | None, deadline_s: float
    ) -> Child:
        """Start a child and wait until `ready` says so; StackError (quoting its log) if it
        exits or the deadline passes first, StopRequested if a signal arrives meanwhile."""
        self.check_stop()
        if spec.name in self.entries:
            raise StackError(f"{spec.name} is already part of the stack")
        entry = Supervised(spec, log_path, ready)
        self.entries[spec.name] = entry
        child = self._spawn(entry, "starting")
        end = time.monotonic() + deadline_s
        while ready is not None and not ready(child):
            self.check_stop()
            if not child.alive():
                what = child.exit_text()
            elif time.monotonic() > end:
                what = f"was not ready within {deadline_s:.0f} s"
            else:
                self.step(skip=spec.name)  # those started before are kept up meanwhile
                self.pause(0.1)
                continue
            raise StackError(f"{spec.name} {what}; {tail(log_path, offset=child.log_offset)}")
        return child

    def _spawn(self, entry: Supervised, note: str) -> Child:
        child = spawn(entry.spec, entry.log_path, note)
        entry.child = child
        if self.record is not None:
            self.record.note(entry.spec.name, child.pid)
        return child

    def remove(self, name: str, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """Stop one child for good (it is not restarted)."""
        entry = self.entries.pop(name)
        if entry.child is not None:
            entry.child.stop(timeout_s)
        for group in entry.dead_groups:
            stop_group(group, entry.spec.stop_signal, timeout_s)

    # -- supervising -------------------------------------------------------------------

    def run(self, poll_s: float = 0.2) -> None:
        """Restart children that exit until a stop is requested."""
        while self.stop_reason is None:
            self.step()
            self.pause(poll_s)

    def step(self, skip: str | None = None) -> None:
        """One look at every child (but `skip`): notice exits, restart those due, report
        those back."""
        now = time.monotonic()
        for name, entry in self.entries.items():
            if name == skip:
                continue
            child = entry.child
            if child is not None and not child.alive():
                self._went_down(entry, child, now)
            elif entry.restart_at is not None and now >= entry.restart_at:
                entry.restart_at = None
                entry.restarts += 1
                entry.coming_back = True
                for group in entry.dead_groups:
                    signal_group(group, signal.SIGKILL)
                entry.dead_groups = []
                try:
                    self._spawn(entry, f"restarting (restart {entry.restarts})")
                except StackError as exc:
                    self._retry_later(entry, str(exc), now)
            elif entry.coming_back and child is not None:
                if entry.ready is None or entry.ready(child):
                    entry.coming_back = False
                    down_s = now - (entry.down_since or now)
                    self.say(
                        f"irp: {entry.spec.label} is back (pid {child.pid}, "
                        f"{down_s:.1f} s after it went down)"
                    )
            elif child is not None and now - child.started_at >= STABLE_AFTER_S:
                entry.backoff_s = FIRST_BACKOFF_S

    def _went_down(self, entry: Supervised, child: Child, now: float) -> None:
        what = child.exit_text()
        # What it started cannot outlive it for long (serve's flow runs write to its pipes
        # and die at their next log line): asked to stop now, killed before the restart.
        signal_group(child.pid, signal.SIGTERM)
        child.close_log()
        entry.dead_groups = [g for g in (*entry.dead_groups, child.pid) if group_exists(g)]
        entry.child = None
        consequence = f"; {entry.spec.when_down}" if entry.spec.when_down else ""
        self._retry_later(entry, f"{entry.spec.label} (pid {child.pid}) {what}{consequence}", now)

    def _retry_later(self, entry: Supervised, what: str, now: float) -> None:
        """Log why `entry` is down and schedule its restart after the current backoff."""
        if not entry.coming_back:  # a restart that fails before it is ready: down since before
            entry.down_since = now
        entry.coming_back = False
        delay = entry.backoff_s
        entry.backoff_s = min(MAX_BACKOFF_S, delay * 2)
        entry.restart_at = now + delay
        message = f"{what}; restarting it in {delay:g} s"
        log_line(entry.log_path, message)
        self.say(f"irp: {message} (log: {entry.log_path})")

    # -- stopping ----------------------------------------------------------------------

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """Stop every child, last started first. Safe to call twice."""
        if not self.entries:
            return
        names = ", ".join(reversed(self.entries))
        reason = f" ({self.stop_reason} received)" if self.stop_reason else ""
        self.say(f"irp: stopping{reason}: {names}; a second signal kills them at once")
        said = False

        def hurry() -> bool:
            nonlocal said
            if self.hurry and not said:
                self.say("irp: second signal: killing what is left")
                said = True
            return self.hurry

        for name in reversed(list(self.entries)):
            entry = self.entries[name]
            entry.restart_at = None
            if entry.child is not None:
                entry.child.stop(timeout_s, hurry=hurry)
                entry.child = None
            for group in entry.dead_groups:
                stop_group(group, entry.spec.stop_signal, timeout_s, hurry=hurry)
        self.entries.clear()

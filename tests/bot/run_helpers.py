"""Drive ``cryptoguard run`` as a real child process: start it, feed its console, watch
its output, stop it.

The output of the child is read line by line by two daemon threads; tests wait for a
line with :meth:`BotProcess.wait_for` (a condition variable with a deadline, never a
fixed sleep). Every wait has a timeout, and :meth:`BotProcess.close` kills whatever is
still running, so a failing test never leaves a process behind or hangs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Literal

Stream = Literal["stdout", "stderr"]

#: How long a stopping process may take before it is killed (and the test fails).
STOP_TIMEOUT_S = 20.0


def cryptoguard_command() -> list[str]:
    """``cryptoguard run`` of this interpreter's environment (the console script when
    installed, else the same entry point through ``-c``)."""
    script = Path(sys.executable).with_name("cryptoguard")
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script), "run"]
    return [sys.executable, "-c", "from bot.cli import main; main()", "run"]


def bot_env(settings: Mapping[str, str]) -> dict[str, str]:
    """The child's environment: ours without any ``CRYPTOGUARD_*`` variable, plus
    ``settings`` (so a developer's own configuration never leaks into a test)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRYPTOGUARD_")}
    env.update(settings)
    env["PYTHONUNBUFFERED"] = "1"
    return env


class BotProcess:
    """One ``cryptoguard run`` child with a stdin pipe kept open (like a terminal).

    Args:
        name: Shown in failure messages.
        env: The child's full environment (see :func:`bot_env`).
        cwd: Working directory (a temporary one: no stray ``.env`` is read).
    """

    def __init__(self, name: str, env: Mapping[str, str], cwd: Path) -> None:
        self.name = name
        self.started = time.monotonic()
        self._lines: dict[Stream, list[str]] = {"stdout": [], "stderr": []}
        self._changed = threading.Condition()
        self.proc = subprocess.Popen(  # noqa: S603 - our own entry point, fixed arguments
            cryptoguard_command(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(env),
            cwd=cwd,
        )
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self._readers = [
            threading.Thread(
                target=self._pump, args=(stream, pipe), name=f"{name}-{stream}", daemon=True
            )
            for stream, pipe in (("stdout", self.proc.stdout), ("stderr", self.proc.stderr))
        ]
        for reader in self._readers:
            reader.start()

    @property
    def pid(self) -> int:
        """The child's process id."""
        return self.proc.pid

    def _pump(self, stream: Stream, pipe: IO[bytes]) -> None:
        for raw in iter(pipe.readline, b""):
            line = raw.decode("utf-8", errors="replace").rstrip("\n").replace("\r", "")
            with self._changed:
                self._lines[stream].append(line)
                self._changed.notify_all()
        with self._changed:  # end of output: wake waiters so they can give up early
            self._changed.notify_all()

    # -- output ----------------------------------------------------------------------------

    def text(self, stream: Stream = "stdout") -> str:
        """Everything the child wrote to ``stream`` so far."""
        with self._changed:
            return "\n".join(self._lines[stream])

    def count(self, needle: str, stream: Stream = "stdout") -> int:
        """How many lines of ``stream`` contain ``needle``."""
        with self._changed:
            return sum(needle in line for line in self._lines[stream])

    def wait_for(
        self, needle: str, *, timeout: float, stream: Stream = "stdout", count: int = 1
    ) -> bool:
        """Wait until ``count`` lines of ``stream`` contain ``needle``; False at the
        deadline or when the child has exited without writing them."""

        def seen() -> bool:
            found = sum(needle in line for line in self._lines[stream])
            return found >= count or self.proc.poll() is not None

        with self._changed:
            self._changed.wait_for(seen, timeout=timeout)
        # the readers may still be draining the pipes of a child that just exited
        if self.proc.poll() is not None:
            self._join_readers(timeout=5.0)
        return self.count(needle, stream) >= count

    def describe(self) -> str:
        """The child's state and output, for assertion messages."""
        code = self.proc.poll()
        state = "running" if code is None else f"exit code {code}"
        return (
            f"\n--- {self.name} (pid {self.pid}, {state}, "
            f"{time.monotonic() - self.started:.1f} s) stdout ---\n{self.text('stdout')[-6000:]}"
            f"\n--- {self.name} stderr ---\n{self.text('stderr')[-6000:]}\n"
        )

    # -- input and signals -----------------------------------------------------------------

    def send(self, line: str) -> None:
        """Type one line into the console."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def terminate(self, timeout: float = STOP_TIMEOUT_S) -> int | None:
        """SIGTERM with stdin still open; the exit code, or ``None`` if it did not stop
        in time (it is then killed)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code: int | None = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            code = None
        self.close()
        return code

    def kill(self) -> int:
        """SIGKILL (a crash: nothing is cleaned up); the exit code."""
        if self.proc.poll() is None:
            self.proc.kill()
        code = self.proc.wait(STOP_TIMEOUT_S)
        self._join_readers(timeout=5.0)
        return code

    def close(self) -> None:
        """Kill the child if it still runs, close its pipes, stop the readers."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(STOP_TIMEOUT_S)
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()
            except BrokenPipeError:  # the child is gone; nothing left to flush
                pass
        self._join_readers(timeout=5.0)

    def _join_readers(self, timeout: float) -> None:
        for reader in self._readers:
            reader.join(timeout)

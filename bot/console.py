"""The console front-end: a local REPL over the same services as Telegram and Discord.

Slash commands give fast, deterministic answers (``/price``, ``/top``, ``/depeg``,
``/help``). Free text is meant for the agent; until the agent lands it says so
plainly instead of inventing an answer. Identity is the local OS user.
"""

from __future__ import annotations

import asyncio
import getpass
import logging
import os
import queue
import shlex
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bot.commands import Commands
from tools.attachments import Attachment
from tools.identity import ChatRef, UserRef
from tools.notify import (
    ConsoleNotifier,
    DeliveryResult,
    Notifier,
    OutgoingMessage,
)

if TYPE_CHECKING:
    from agents.service import AgentReply
    from bot.app import App

logger = logging.getLogger(__name__)


AGENT_NOT_WIRED = (
    "The conversational assistant is not running in this session, so free text "
    "cannot be answered. Use a command instead; /help lists them."
)


def local_user() -> UserRef:
    """The console's user: the local OS account."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry / no login name in some containers
        name = "local"
    return UserRef("console", name, display_name=name)


class Console:
    """Parses console input and renders answers.

    Args:
        prices: The market service.
        color: Emit ANSI colours.
    """

    def __init__(self, app: App, *, color: bool = False) -> None:
        self.app = app
        self.prices = app.prices
        self.agent = app.agent
        self.color = color
        self.user = local_user()
        self.chat = ChatRef("console", 0, private=True)
        self.commands = Commands(app, self.user, self.chat, self._attach, color=color)

    async def handle(self, line: str) -> str:
        """Answer one line of input (never raises)."""
        text = line.strip()
        if not text:
            return ""
        if not text.startswith("/"):
            if self.agent is None:
                return AGENT_NOT_WIRED
            reply = await self.agent.reply(self.user, self.chat, text)
            saved = [await self._save(a) for a in reply.attachments]
            return render_agent_reply(reply, saved)
        try:
            parts = shlex.split(text[1:])
        except ValueError:
            parts = text[1:].split()
        if not parts:
            return "Type /help for the list of commands."
        name, args = parts[0].lower().split("@", 1)[0], parts[1:]
        return await self.commands.run(name, args)

    async def _save(self, attachment: Attachment) -> Path:
        """Write an attachment under the data directory and return its path."""
        folder = self.app.settings.data_dir / "charts"
        path = folder / attachment.filename
        await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
        await asyncio.to_thread(path.write_bytes, attachment.data)
        return path

    async def _attach(self, attachment: Attachment) -> str:
        """Save a file a command produced and say where."""
        return f"Saved to {await self._save(attachment)}"

    def notifier(self) -> Notifier:
        """The delivery channel of this terminal: messages for its user are shown here."""
        return LocalConsoleNotifier(self.user.platform_user_id, self.notify)

    def notify(self, text: str) -> None:
        """Show a pushed message (a fired alert, a digest) as it happens, above the prompt."""
        prompt = "> " if sys.stdin.isatty() else ""
        print(f"\r{text}\n{prompt}", end="", flush=True)

    async def run(self) -> bool:
        """Read lines until EOF or /quit, answering each.

        Lines are read by a daemon thread, so a pending read never keeps the process
        alive after a SIGTERM.

        Returns:
            ``True`` when the user quit, ``False`` at the end of input.
        """
        reader = LineReader("> " if sys.stdin.isatty() else "")
        print("CryptoGuard console. Type /help for commands, /quit to leave.", flush=True)
        while True:
            line = await reader.readline()
            if line is None:
                return False
            if line.strip().lower() in {"/quit", "/exit", "quit", "exit"}:
                return True
            answer = await self.handle(line)
            if answer:
                print(answer, flush=True)


class LocalConsoleNotifier:
    """Console delivery for one local user (see :meth:`Console.notifier`): it serves that
    user's own channel (:func:`tools.users.channel_of`), so a console process of another
    account never takes, shows or loses their messages."""

    def __init__(self, user_id: str, write: Callable[[str], None]) -> None:
        self.user_id = user_id
        self.channel = f"console:{user_id}"
        self._inner = ConsoleNotifier(write, channel=self.channel)

    async def send(self, recipient: str, message: OutgoingMessage) -> DeliveryResult:
        """Show the message in this terminal."""
        return await self._inner.send(recipient, message)


class LineReader:
    """Reads stdin lines on a daemon thread, one line per request.

    Asking for the next line only when the previous answer is printed keeps the prompt
    after the answer; ``None`` marks the end of input.
    """

    def __init__(self, prompt: str) -> None:
        self._prompt = prompt
        self._requests: queue.SimpleQueue[asyncio.Future[str | None]] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._read, name="console-input", daemon=True)
        self._thread.start()

    async def readline(self) -> str | None:
        """The next line of input, or ``None`` at end of input."""
        future: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._requests.put(future)
        return await future

    def _read(self) -> None:
        # input() on a pipe blocks in sys.stdin's buffered reader holding its lock, and
        # the interpreter aborts at exit ("_enter_buffered_busy") when a SIGTERM stops the
        # process meanwhile; unbuffered os.read() holds no lock. Terminals keep input()
        # for its line editing.
        terminal = sys.stdin.isatty()
        try:
            fd: int | None = sys.stdin.fileno()
        except (OSError, ValueError):  # a stream without a descriptor (tests, embedding)
            fd = None
        pending = b""
        while True:
            future = self._requests.get()
            line: str | None
            if terminal or fd is None:
                try:
                    line = input(self._prompt)
                except (EOFError, KeyboardInterrupt, OSError, ValueError):
                    line = None
            else:
                line, pending = _read_raw_line(fd, pending)
            loop = future.get_loop()
            loop.call_soon_threadsafe(_resolve, future, line)
            if line is None:
                return


def _read_raw_line(fd: int, pending: bytes) -> tuple[str | None, bytes]:
    """One line from the file descriptor (``None`` at the end), and what is left."""
    while b"\n" not in pending:
        try:
            chunk = os.read(fd, 4096)
        except (OSError, ValueError):
            chunk = b""
        if not chunk:
            if not pending:
                return None, b""
            return pending.decode("utf-8", "replace").rstrip("\r"), b""
        pending += chunk
    raw, _, rest = pending.partition(b"\n")
    return raw.decode("utf-8", "replace").rstrip("\r"), rest


def _resolve(future: asyncio.Future[str | None], line: str | None) -> None:
    if not future.done():
        future.set_result(line)


def render_agent_reply(reply: AgentReply, saved: Sequence[Path] = ()) -> str:
    """The assistant's answer, with attachments listed by name (or saved path)."""
    lines = [reply.text]
    for i, attachment in enumerate(reply.attachments):
        where = str(saved[i]) if i < len(saved) else attachment.filename
        lines.append(f"[attachment saved to {where}]" if saved else f"[attachment: {where}]")
    return "\n".join(lines)


def stdout_is_terminal() -> bool:
    """True when stdout is an interactive terminal (enables colour)."""
    return sys.stdout.isatty()

"""Answering interactions: identity, defer-then-follow-up, ephemeral private data.

Every slash command that calls a service goes through :func:`answer`:

1. the interaction is deferred at once (``thinking=True``), well inside Discord's 3 s,
   so a slow service can never produce "Unknown interaction";
2. the user is registered (``UserService.ensure``) and the work runs, with the files it
   produces collected (charts, CSV reports);
3. the plain-text answer is formatted (:func:`bot.discord.format.render_messages`:
   escaped markdown with the tables in code blocks, split at 2000 characters) and sent
   as follow-ups, the files with the last part, with ``AllowedMentions.none()``.

Private data (portfolio, alerts, settings, digest) is answered ephemerally in a server
(only the caller sees it); in a DM there is no one else to hide it from. Identity always
comes from the interaction (``interaction.user``), never from option text.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import discord

from bot.commands import Commands
from bot.discord.format import DiscordMessage, render_messages
from bot.errors import render_error
from tools.attachments import Attachment
from tools.identity import ChatRef, UserRef

if TYPE_CHECKING:
    from bot.app import App

logger = logging.getLogger(__name__)

PLATFORM = "discord"
#: Nobody is ever pinged by the bot: not by an alert label, a coin name or a reply.
NO_MENTIONS = discord.AllowedMentions.none()
#: Sent when an answer would otherwise be empty (a deferred answer must be followed up).
NOTHING = "Done."


def user_ref(user: discord.abc.User) -> UserRef:
    """The identity of a Discord user (from the platform, never from text)."""
    return UserRef(PLATFORM, str(user.id), display_name=user.display_name or user.name)


def interaction_chat(interaction: discord.Interaction) -> ChatRef:
    """Where an interaction happened: a server channel, or the user's DM with the bot.

    A DM is identified by the user's id, as a private chat is on Telegram: the user
    profile then records the user's id as their address, and the notifier opens the DM
    from it without having to tell a user id from a channel id.
    """
    if is_direct(interaction):
        return ChatRef(PLATFORM, interaction.user.id, private=True)
    return ChatRef(PLATFORM, interaction.channel_id or interaction.user.id, private=False)


def message_chat(message: discord.Message) -> ChatRef:
    """Where a message was sent (a DM is identified by its author, see above)."""
    if message.guild is None and isinstance(message.channel, discord.DMChannel):
        return ChatRef(PLATFORM, message.author.id, private=True)
    return ChatRef(PLATFORM, message.channel.id, private=False)


def is_direct(interaction: discord.Interaction) -> bool:
    """The interaction comes from the user's DM with the bot (nobody else can see it)."""
    if interaction.guild_id is not None:
        return False
    channel = interaction.channel
    return channel is None or getattr(channel, "type", None) is discord.ChannelType.private


@dataclass
class Collector:
    """Receives the files a command produces (sent with the answer)."""

    files: list[Attachment] = field(default_factory=list)

    async def attach(self, attachment: Attachment) -> str:
        self.files.append(attachment)
        return ""


@dataclass
class Turn:
    """One command of one user: the services, who asks, where, and the file collector."""

    app: App
    user: UserRef
    chat: ChatRef
    collector: Collector

    @property
    def attach(self) -> Callable[[Attachment], Awaitable[str]]:
        """Hands a file to the answer."""
        return self.collector.attach

    async def run(self, name: str, args: Sequence[str]) -> str:
        """Run a shared slash command (:class:`bot.commands.Commands`; never raises)."""
        commands = Commands(self.app, self.user, self.chat, self.collector.attach)
        return discord_names(await commands.run(name, list(args)))


Work = Callable[[Turn], Awaitable[str]]

#: Shared command names as they are spelled in Discord's groups.
DISCORD_NAMES = {
    "buy": "portfolio buy",
    "sell": "portfolio sell",
    "trades": "portfolio trades",
    "risk": "portfolio risk",
    "target": "portfolio target",
    "rebalance": "portfolio rebalance",
    "tax": "portfolio tax",
    "import": "portfolio import",
    "export": "portfolio export",
    "alerts": "alert list",
    "delalert": "alert delete",
    "pause": "alert pause",
    "resume": "alert resume",
}
_SHARED_NAME = re.compile(rf"(?<![\w/])/({'|'.join(DISCORD_NAMES)})\b")


def discord_names(text: str) -> str:
    """Hints in a shared answer ("e.g. /buy btc 0.1") with Discord's command names
    ("/portfolio buy btc 0.1")."""
    return _SHARED_NAME.sub(lambda m: "/" + DISCORD_NAMES[m.group(1)], text)


async def answer(
    interaction: discord.Interaction,
    app: App,
    work: Work,
    *,
    private: bool = False,
    public: bool = False,
) -> None:
    """Defer, run ``work``, and follow up with its answer and files.

    Args:
        interaction: The slash command.
        app: The services.
        work: Produces the plain-text answer (errors become messages).
        private: The answer shows the user's own data: ephemeral in a server.
        public: The user asked to share a private answer in the channel.
    """
    chat = interaction_chat(interaction)
    ephemeral = private and not public and not chat.private
    if not await defer(interaction, ephemeral=ephemeral):
        return
    turn = Turn(app, user_ref(interaction.user), chat, Collector())
    try:
        await app.users.ensure(turn.user, chat)
        text = await work(turn)
    except Exception as exc:  # the edge: every error becomes a message
        text = render_error(exc)
    await follow_up(interaction, text, turn.collector.files, ephemeral=ephemeral)


async def run_command(
    interaction: discord.Interaction,
    app: App,
    name: str,
    args: list[str],
    *,
    private: bool = False,
    public: bool = False,
) -> None:
    """:func:`answer` with the shared command ``/name args`` (see ``bot.commands``)."""

    async def work(turn: Turn) -> str:
        return await turn.run(name, args)

    await answer(interaction, app, work, private=private, public=public)


async def defer(interaction: discord.Interaction, *, ephemeral: bool) -> bool:
    """Acknowledge the interaction ("thinking..."); ``False`` if it expired already."""
    try:
        await interaction.response.defer(thinking=True, ephemeral=ephemeral)
    except discord.InteractionResponded:
        return True
    except discord.NotFound:
        # 10062 Unknown interaction: the 3 s passed before we got to it (a blocked
        # event loop); nothing can be sent for it any more.
        logger.warning("Discord: interaction %s expired before it was deferred", interaction.id)
        return False
    return True


async def follow_up(
    interaction: discord.Interaction,
    text: str,
    files: Sequence[Attachment] = (),
    *,
    ephemeral: bool = False,
    view: discord.ui.View | None = None,
) -> None:
    """Send ``text`` (split at Discord's limits) and ``files`` as follow-ups.

    Works whether or not the interaction was answered yet: the first part becomes the
    response when it was not. ``view`` goes under the last part.
    """
    parts = render_messages(text, files) or render_messages(NOTHING)
    for index, part in enumerate(parts):
        kwargs = _message_kwargs(part)
        kwargs["ephemeral"] = ephemeral
        if index == len(parts) - 1 and view is not None:
            kwargs["view"] = view
        try:
            if not interaction.response.is_done():
                await interaction.response.send_message(**kwargs)
            else:
                await interaction.followup.send(**kwargs)
        except discord.HTTPException as exc:
            # Unknown webhook (15 minutes passed), missing access...: nothing more to do
            logger.warning(
                "Discord: answer to interaction %s not sent (%s %s)",
                interaction.id,
                exc.status,
                exc.code,
            )
            return


async def reply_to(message: discord.Message, text: str, files: Sequence[Attachment] = ()) -> None:
    """Answer a message in its channel (split at Discord's limits; pings nobody).

    The first part replies to the message (without notifying its author); the others
    follow it. A failure is logged: the channel may have gone or the bot lost access.
    """
    parts = render_messages(text, files) or render_messages(NOTHING)
    for index, part in enumerate(parts):
        kwargs = _message_kwargs(part)
        if index == 0:
            kwargs["reference"] = message.to_reference(fail_if_not_exists=False)
            kwargs["mention_author"] = False
        try:
            await message.channel.send(**kwargs)
        except discord.HTTPException as exc:
            logger.warning(
                "Discord: reply in channel %s not sent (%s %s)",
                message.channel.id,
                exc.status,
                exc.code,
            )
            return


async def tell(interaction: discord.Interaction, text: str, *, ephemeral: bool = True) -> None:
    """A short reply that needs no service (a refusal, a usage hint): never raises."""
    with contextlib.suppress(discord.HTTPException):
        await follow_up(interaction, text, ephemeral=ephemeral)


def _message_kwargs(part: DiscordMessage) -> dict[str, Any]:
    """The send arguments of one formatted message (nobody pinged)."""
    kwargs: dict[str, Any] = {"allowed_mentions": NO_MENTIONS}
    if part.content:
        kwargs["content"] = part.content
    if part.embeds:
        kwargs["embeds"] = list(part.embeds)
    if part.files:
        kwargs["files"] = to_files(part.files)
    return kwargs


def to_files(attachments: Sequence[Attachment]) -> list[discord.File]:
    """Attachments as discord.py files (a fresh buffer per send)."""
    return [
        discord.File(
            io.BytesIO(a.data), filename=a.filename, description=a.caption.strip()[:1024] or None
        )
        for a in attachments
    ]

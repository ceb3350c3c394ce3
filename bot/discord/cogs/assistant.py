"""The assistant: /ask, /reset, and messages that mention the bot or are sent in a DM.

Identity comes from the platform (the interaction's or message's author), never from the
text. A turn can take many seconds: slash commands defer first; messages show "typing"
while the agent works. Other users' commands keep running meanwhile (discord.py runs
each event in its own task).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord.respond import Turn, answer, message_chat, reply_to, run_command, user_ref
from bot.errors import render_error

if TYPE_CHECKING:
    from bot.app import App

logger = logging.getLogger(__name__)

#: Discord shows "typing" for about 10 s; refreshed this often while the agent works.
TYPING_EVERY_S = 8.0
NO_AGENT = "The assistant is not running; try /help for the commands."


class AssistantCog(commands.Cog, name="assistant"):
    """Free text for the agent."""

    def __init__(self, app: App, bot: commands.Bot) -> None:
        self.app = app
        self.bot = bot

    @app_commands.command(name="ask", description="Ask the assistant anything about crypto")
    @app_commands.describe(
        question="e.g. how much is ethereum in euros?",
        public="Show the answer to the channel (default: only to you in a server)",
    )
    async def ask(
        self,
        interaction: discord.Interaction,
        question: app_commands.Range[str, 1, 2000],
        public: bool = False,
    ) -> None:
        """/ask question:ping me if ETH goes above 4k."""

        async def work(turn: Turn) -> str:
            agent = turn.app.agent
            if agent is None:
                return NO_AGENT
            reply = await agent.reply(turn.user, turn.chat, question)
            for attachment in reply.attachments:
                await turn.attach(attachment)
            return reply.text

        # The agent can show the user's portfolio and alerts: private unless shared.
        await answer(interaction, self.app, work, private=True, public=public)

    @app_commands.command(name="reset", description="Forget our conversation and start anew")
    async def reset(self, interaction: discord.Interaction) -> None:
        """/reset."""

        await run_command(interaction, self.app, "reset", [], private=True)

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        """A DM to the bot, or a server message mentioning it, goes to the agent."""
        me = self.bot.user
        if me is None or message.author.bot or message.author.id == me.id:
            return
        if message.type not in (discord.MessageType.default, discord.MessageType.reply):
            return
        chat = message_chat(message)
        if not chat.private and not any(u.id == me.id for u in message.mentions):
            return
        text = strip_mentions(message.content, me.id)
        agent = self.app.agent
        who = user_ref(message.author)
        try:
            if agent is None:
                reply_text, files = NO_AGENT, []
            else:
                await self.app.users.ensure(who, chat)
                async with _typing(message.channel):
                    reply = await agent.reply(who, chat, text)
                reply_text, files = reply.text, reply.attachments
        except Exception as exc:  # the edge: every error becomes a message
            reply_text, files = render_error(exc), []
        await reply_to(message, reply_text, files)


def strip_mentions(text: str, user_id: int) -> str:
    """The message without the bot's mention (``<@id>`` or ``<@!id>``)."""
    return re.sub(rf"<@!?{user_id}>", " ", text).strip()


@contextlib.asynccontextmanager
async def _typing(channel: discord.abc.Messageable) -> AsyncIterator[None]:
    """Show "typing..." while the block runs (best effort: a failure is only logged)."""
    done = asyncio.Event()

    async def keep_typing() -> None:
        while not done.is_set():
            try:
                await channel.typing()
            except discord.HTTPException as exc:
                logger.debug("Discord: typing not shown (%s)", exc.status)
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), TYPING_EVERY_S)

    task = asyncio.create_task(keep_typing())
    try:
        yield
    finally:
        done.set()
        await task

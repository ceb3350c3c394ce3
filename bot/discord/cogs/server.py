"""Server features: /subscribe and /unsubscribe a channel to depeg alerts or the digest.

Only members with Manage Server may change a channel's subscriptions. Discord hides the
commands from other members (``default_permissions``), and since a server can override
that, the permission is checked again when the command runs. Messages to a channel never
ping anyone (the notifier sends them with ``AllowedMentions.none()``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord.options import SUBSCRIPTION_KINDS, PostableChannel
from bot.discord.respond import PLATFORM, Turn, answer
from tools.identity import ChatRef
from tools.subscriptions import SubscriptionService

if TYPE_CHECKING:
    from bot.app import App

Channel = app_commands.Transform[app_commands.AppCommandChannel, PostableChannel]


def can_manage_server(interaction: discord.Interaction) -> bool:
    """The runtime check behind ``default_permissions(manage_guild=True)``.

    Raises:
        app_commands.NoPrivateMessage: Outside a server.
        app_commands.MissingPermissions: The member lacks Manage Server.
    """
    if interaction.guild_id is None:
        raise app_commands.NoPrivateMessage()
    permissions = interaction.permissions
    if permissions.manage_guild or permissions.administrator:
        return True
    raise app_commands.MissingPermissions(["manage_guild"])


class ServerCog(commands.Cog, name="server"):
    """Channel subscriptions for server managers."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.subscriptions = SubscriptionService(app.db, clock=app.clock)

    @app_commands.command(
        name="subscribe", description="Post depeg alerts or the daily digest in a channel"
    )
    @app_commands.describe(kind="What to post", channel="Where (default: this channel)")
    @app_commands.choices(kind=SUBSCRIPTION_KINDS)
    @app_commands.allowed_contexts(guilds=True, dms=False, private_channels=False)
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.check(can_manage_server)
    async def subscribe(
        self, interaction: discord.Interaction, kind: str, channel: Channel | None = None
    ) -> None:
        """/subscribe kind:depeg channel:#alerts."""
        target, name = _target(interaction, channel)

        async def work(turn: Turn) -> str:
            text = await self.subscriptions.subscribe(target, kind, turn.user)
            return _name_channel(text, name)

        await answer(interaction, self.app, work)

    @app_commands.command(
        name="unsubscribe", description="Stop depeg alerts or the digest in a channel"
    )
    @app_commands.describe(kind="What to stop", channel="Where (default: this channel)")
    @app_commands.choices(kind=SUBSCRIPTION_KINDS)
    @app_commands.allowed_contexts(guilds=True, dms=False, private_channels=False)
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.check(can_manage_server)
    async def unsubscribe(
        self, interaction: discord.Interaction, kind: str, channel: Channel | None = None
    ) -> None:
        """/unsubscribe kind:digest."""
        target, name = _target(interaction, channel)

        async def work(turn: Turn) -> str:
            text = await self.subscriptions.unsubscribe(target, kind, turn.user)
            return _name_channel(text, name)

        await answer(interaction, self.app, work)


def _target(
    interaction: discord.Interaction, channel: app_commands.AppCommandChannel | None
) -> tuple[ChatRef, str]:
    """The channel to (un)subscribe and how to name it in the answer."""
    if channel is not None:
        return ChatRef(PLATFORM, channel.id, private=False), f"#{channel.name}"
    name = getattr(interaction.channel, "name", None)
    chat = ChatRef(PLATFORM, int(interaction.channel_id or 0), private=False)
    return chat, f"#{name}" if name else "This channel"


def _name_channel(text: str, name: str) -> str:
    """ "This chat now gets..." with the channel's name."""
    return text.replace("This chat", name, 1)

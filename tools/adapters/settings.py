"""Agent tool over ``UserService``: update_settings (the speaker's own preferences)."""

from __future__ import annotations

from langchain.tools import ToolRuntime, tool
from langchain_core.tools import BaseTool

from tools.adapters.context import ToolContext
from tools.users import UserService


def settings_tools(users: UserService) -> list[BaseTool]:
    """The settings tool, bound to the user service."""

    @tool(parse_docstring=True)
    async def update_settings(
        timezone: str | None = None,
        digest_time: str | None = None,
        digest_enabled: bool | None = None,
        depeg_threshold: float | None = None,
        *,
        runtime: ToolRuntime[ToolContext],
    ) -> str:
        """Change the user's own preferences; only pass what the user asked to change.

        Args:
            timezone: IANA timezone such as "Europe/Berlin" or "Asia/Tokyo".
            digest_time: Local time for the daily digest, "HH:MM" (24h).
            digest_enabled: Turn the daily digest on (true) or off (false).
            depeg_threshold: Default stablecoin depeg alert threshold in percent (e.g. 0.5).
        """
        threshold = None if depeg_threshold is None else str(depeg_threshold)
        _, changes = await users.update_settings(
            runtime.context.user,
            timezone=timezone,
            digest_time=digest_time,
            digest_enabled=digest_enabled,
            depeg_threshold=threshold,
        )
        return " ".join(changes)

    return [update_settings]

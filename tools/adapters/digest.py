"""Agent tool over ``DigestService``: daily_digest (the speaker's own digest, right now).
The user always comes from the runtime context."""

from __future__ import annotations

from langchain.tools import ToolRuntime, tool
from langchain_core.tools import BaseTool

from tools.adapters.context import ToolContext
from tools.attachments import Attachment
from tools.digest.service import DigestService


def digest_tools(digests: DigestService) -> list[BaseTool]:
    """The digest tool, bound to the service."""

    @tool(parse_docstring=True, response_format="content_and_artifact")
    async def daily_digest(*, runtime: ToolRuntime[ToolContext]) -> tuple[str, list[Attachment]]:
        """Build the user's daily digest now: BTC and ETH, top movers, stablecoin health,
        their portfolio value and 24h change, recent and nearly triggered alerts, a chart."""
        digest = await digests.build_for(runtime.context.user)
        return digest.text, list(digest.attachments)

    return [daily_digest]

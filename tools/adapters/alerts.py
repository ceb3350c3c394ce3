"""Agent tools over ``AlertService``: create_alert, list_alerts, delete_alert.

The user always comes from the injected runtime context; no tool takes a user id, and
``delete_alert`` deletes one of the speaker's own alerts by id (another user's id gets
the same "not found" as a missing one). Domain errors propagate and are turned into
sanitised tool errors by the agent's middleware; repeated identical calls within a turn
are answered once by the idempotency middleware.
"""

from __future__ import annotations

from langchain.tools import ToolRuntime, tool
from langchain_core.tools import BaseTool

from tools.adapters.context import ToolContext
from tools.alerts.service import AlertService
from tools.alerts.text import render_alert_list, render_created


def alert_tools(alerts: AlertService) -> list[BaseTool]:
    """The alert tools, bound to the service."""

    @tool(parse_docstring=True)
    async def create_alert(
        kind: str,
        symbol: str | None = None,
        threshold: float | str | None = None,
        window: str | None = None,
        direction: str | None = None,
        recurring: bool = False,
        formula: str | None = None,
        *,
        runtime: ToolRuntime[ToolContext],
    ) -> str:
        """Create a price, percentage-move, depeg, RSI, portfolio or formula alert for the user.

        Args:
            kind: One of price_above, price_below, pct_change, depeg, rsi_above, rsi_below,
                portfolio_above, portfolio_below, formula_above, formula_below.
            symbol: Upper-case ticker such as "BTC" (a stablecoin such as "USDC" for depeg);
                omit for portfolio alerts.
            threshold: Price in USD (e.g. 100000 or "95k"), percent for pct_change and
                depeg (e.g. 5), RSI level 0-100, portfolio value, or formula value; omit
                for depeg to use the default depeg threshold from settings.
            window: Time window of a pct_change alert, e.g. "1h", "24h", "7d"; for RSI
                and formula alerts, the bar interval: "1h", "4h" or "1d" (default).
            direction: Direction of a pct_change alert: up, down or any.
            recurring: Fire again each time the condition recurs (after a cooldown),
                instead of once.
            formula: Name of one of the user's saved formulas (formula kinds only).
        """
        result = await alerts.create(
            runtime.context.user,
            kind,
            symbol,
            threshold,
            window,
            direction,
            recurring,
            formula,
        )
        return render_created(result)

    @tool(parse_docstring=False)
    async def list_alerts(*, runtime: ToolRuntime[ToolContext]) -> str:
        """List the user's active and paused alerts with how far each is from triggering."""
        return render_alert_list(await alerts.list_report(runtime.context.user))

    @tool(parse_docstring=True)
    async def delete_alert(alert_id: int, *, runtime: ToolRuntime[ToolContext]) -> str:
        """Delete one of the user's alerts by its number.

        Args:
            alert_id: The alert's number as shown by list_alerts, e.g. 12.
        """
        view = await alerts.delete(runtime.context.user, alert_id)
        return f"Deleted alert #{view.id}: {view.description}."

    return [create_alert, list_alerts, delete_alert]

"""Agent tools over the analysis services: history, charts, indicators, formulas,
backtests and sentiment. Charts come back as artifacts the front-ends send as images."""

from __future__ import annotations

import datetime as dt
from typing import Any

from langchain.tools import ToolRuntime, tool
from langchain_core.tools import BaseTool

from tools.adapters.context import ToolContext
from tools.analysis.backtest import BacktestService, trades_csv
from tools.analysis.backtest_chart import backtest_chart
from tools.analysis.charts import ChartService
from tools.analysis.formula import FormulaService
from tools.analysis.formula_chart import formula_chart
from tools.analysis.history import HistoryService
from tools.analysis.sentiment import SentimentService
from tools.analysis.technical import TechnicalService
from tools.analysis.text_backtest import backtest_text
from tools.analysis.text_history import history_text, point_text
from tools.analysis.text_sentiment import sentiment_text
from tools.analysis.text_ta import formula_text, technical_text
from tools.attachments import Attachment
from tools.errors import UserInputError


def analysis_tools(
    history: HistoryService,
    charts: ChartService,
    technicals: TechnicalService,
    formulas: FormulaService,
    backtests: BacktestService,
    sentiment: SentimentService,
) -> list[BaseTool]:
    """The analysis tools, bound to their services."""

    @tool(parse_docstring=True)
    async def price_history(
        symbol: str, days: int = 30, interval: str = "1d", date: str | None = None
    ) -> str:
        """Summarise a coin's price history (first/last, high/low with dates, return,
        volatility), or give its price on one past day.

        Args:
            symbol: Upper-case ticker such as "ETH".
            days: How many days back (1-3650).
            interval: Bar length: 1h, 4h, 1d or 1w.
            date: A past day "YYYY-MM-DD" for a point lookup ("price of BTC on 2024-01-01").
        """
        if date is not None:
            try:
                day = dt.date.fromisoformat(str(date)[:10])
            except ValueError:
                raise UserInputError(f'"{str(date)[:20]}" is not a date; use YYYY-MM-DD.') from None
            return point_text(await history.price_on(symbol, day))
        return history_text(await history.summary(symbol, days, interval))

    @tool(parse_docstring=True, response_format="content_and_artifact")
    async def price_chart(
        symbol: str, days: int = 30, interval: str = "1d"
    ) -> tuple[str, Attachment]:
        """Draw a price chart (candles or line, volume, Bollinger Bands, RSI) as an image.

        Args:
            symbol: Upper-case ticker such as "BTC".
            days: How many days back (1-3650).
            interval: Bar length: 1h, 4h, 1d or 1w.
        """
        attachment = await charts.price_chart(
            symbol, days, interval, overlays=["bbands", "sma20"], panel="rsi"
        )
        return f"Chart attached: {attachment.caption}", attachment

    @tool(parse_docstring=True)
    async def technical_analysis(
        symbol: str, indicators: list[str] | None = None, interval: str = "1d"
    ) -> str:
        """Compute technical indicators for a coin with a plain-language reading and stance.

        Args:
            symbol: Upper-case ticker such as "ETH".
            indicators: Any of RSI, MACD, BBANDS, SMA, EMA, ATR, STOCH (with an optional
                period like "RSI(7)"); omit for all of them.
            interval: Bar length: 1h, 4h, 1d or 1w.
        """
        return technical_text(await technicals.analyse(symbol, indicators, interval))

    @tool(parse_docstring=True, response_format="content_and_artifact")
    async def evaluate_formula(
        symbol: str, formula: str, interval: str = "1d", *, runtime: ToolRuntime[ToolContext]
    ) -> tuple[str, Attachment | None]:
        """Evaluate a custom indicator formula (or one the user saved by name) on a coin.

        Args:
            symbol: Upper-case ticker such as "BTC".
            formula: An expression like "RSI(14) - RSI(28)", "EMA(12)/EMA(26) - 1",
                "(CLOSE - SMA(20)) / ATR(14)" or "RSI(14) > 70", or a saved formula's name.
            interval: Bar length: 1h, 4h, 1d or 1w.
        """
        report = await formulas.evaluate(symbol, formula, interval, user=runtime.context.user)
        return formula_text(report), await formula_chart(report)

    @tool(parse_docstring=True, response_format="content_and_artifact")
    async def backtest_strategy(
        symbol: str,
        strategy: str,
        period: str = "1y",
        params: dict[str, Any] | None = None,
        initial_capital: float = 10000,
        interval: str = "1d",
    ) -> tuple[str, list[Attachment]]:
        """Backtest a trading strategy on a coin's price history and compare it with buy and hold.

        Args:
            symbol: Upper-case ticker such as "BTC".
            strategy: One of rsi_mean_reversion, macd_crossover, sma_crossover,
                bollinger_reversion, dca, buy_and_hold.
            period: How far back, like "90d", "6m", "1y", "2y".
            params: Strategy parameters, e.g. {"period": 14, "buy_below": 30} for RSI or
                {"fast": 20, "slow": 50} for sma_crossover, {"frequency": "weekly"} for dca.
            initial_capital: Starting cash in USD.
            interval: Bar length: 1h, 4h or 1d.
        """
        report = await backtests.run(
            symbol, strategy, period, params, initial_capital=initial_capital, interval=interval
        )
        trades = Attachment(
            f"{report.symbol.lower()}-{report.strategy}-trades.csv",
            "text/csv",
            trades_csv(report).encode(),
            f"{report.symbol} {report.title}: trade list",
        )
        return backtest_text(report), [await backtest_chart(report), trades]

    @tool(parse_docstring=True)
    async def market_sentiment(symbol: str | None = None) -> str:
        """Score the sentiment of recent crypto news headlines for a coin or the whole market.

        Args:
            symbol: Upper-case ticker such as "BTC"; omit for the market as a whole.
        """
        return sentiment_text(await sentiment.analyse(symbol))

    return [
        price_history,
        price_chart,
        technical_analysis,
        evaluate_formula,
        backtest_strategy,
        market_sentiment,
    ]

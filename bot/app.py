"""The composition root: opens shared resources once and wires the services.

``open_app(settings)`` creates the database (and migrates it), the market with its
HTTP clients, and the services every front-end uses; it closes them all on exit.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import cached_property
from typing import TYPE_CHECKING

from bot.settings import MarketMode, Settings
from storage import Database, upgrade_database
from tools.clock import Clock, SystemClock
from tools.market.factory import MarketConfig, MarketHandle, open_market
from tools.market.persist import QuoteStore
from tools.market.service import PriceService
from tools.market.stablecoins import PegThresholds
from tools.market.symbols import SymbolResolver
from tools.users import UserService

if TYPE_CHECKING:
    from agents.model import ModelConfig
    from agents.service import AgentService
    from tools.alerts.service import AlertService
    from tools.alerts.watch import MarketWatch
    from tools.analysis.backtest import BacktestService
    from tools.analysis.charts import ChartService
    from tools.analysis.formula import FormulaService
    from tools.analysis.history import HistoryService
    from tools.analysis.sentiment import SentimentService
    from tools.analysis.technical import TechnicalService
    from tools.digest.service import DigestService
    from tools.portfolio.service import PortfolioService

logger = logging.getLogger(__name__)

#: How many of the largest coins the scheduler keeps warm in the cache.
REFRESH_TOP_N = 100


@dataclass
class App:
    """Everything a front-end or job needs, opened once per process."""

    settings: Settings
    db: Database
    market: MarketHandle
    prices: PriceService
    users: UserService
    quote_store: QuoteStore
    clock: Clock
    agent: AgentService | None = None
    #: Writes the digest's summary paragraph with the configured LLM (set by open_app
    #: when an OpenAI-compatible model is configured; templated otherwise).
    summariser: Callable[[str], Awaitable[str]] | None = None
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    @cached_property
    def sentiment(self) -> SentimentService:
        """Market sentiment (feeds, scorer and HTTP clients are set up on first use)."""
        from tools.analysis.sentiment_setup import open_sentiment

        handle = open_sentiment(
            self.settings.market.value,
            self.prices.resolver,
            self.clock,
            model_path=self.settings.sentiment.model_path,
            headlines_path=self.settings.sentiment.headlines_file,
        )
        self.closers.append(handle.aclose)
        return handle.service

    @cached_property
    def portfolios(self) -> PortfolioService:
        """Trades, holdings, risk, targets, rebalancing and tax lots."""
        from tools.portfolio.service import PortfolioService

        return PortfolioService(self.db, self.prices, clock=self.clock)

    @cached_property
    def history(self) -> HistoryService:
        """Price history summaries and point lookups."""
        from tools.analysis.history import HistoryService

        return HistoryService(self.prices, clock=self.clock)

    @cached_property
    def charts(self) -> ChartService:
        """Price charts (matplotlib loads on first use)."""
        from tools.analysis.charts import ChartService

        return ChartService(self.prices)

    @cached_property
    def technicals(self) -> TechnicalService:
        """Indicators and the technical summary."""
        from tools.analysis.technical import TechnicalService

        return TechnicalService(self.prices)

    @cached_property
    def formulas(self) -> FormulaService:
        """Custom formulas and the users' saved ones."""
        from tools.analysis.formula import FormulaService

        return FormulaService(self.prices, self.db, clock=self.clock)

    @cached_property
    def backtests(self) -> BacktestService:
        """Backtests (numpy and TA-Lib load on first use)."""
        from tools.analysis.backtest import BacktestService

        return BacktestService(self.prices)

    @cached_property
    def alerts(self) -> AlertService:
        """Users' alert rules (create, list, delete, pause, history)."""
        from tools.alerts.service import AlertService

        return AlertService(
            self.db,
            self.prices,
            self.users,
            portfolios=self.portfolios,
            formulas=self.formulas,
            clock=self.clock,
            max_active=self.settings.alerts.max_active,
            default_cooldown_s=self.settings.alerts.default_cooldown_s,
        )

    @cached_property
    def watch(self) -> MarketWatch:
        """The market tick: alert rules and the depeg monitor."""
        from tools.alerts.metrics import MetricReader
        from tools.alerts.watch import DepegPolicy, MarketWatch

        depeg = self.settings.depeg
        policy = DepegPolicy(
            thresholds=self.prices.thresholds,
            persist_samples=depeg.persist_samples,
            persist_minutes=depeg.persist_minutes,
            major_min_supply=depeg.major_min_supply,
            stale_after_s=self.settings.providers.stale_after_s,
            disagreement_pct=self.settings.providers.disagreement_pct,
        )
        reader = MetricReader(self.prices, portfolios=self.portfolios, formulas=self.formulas)
        watch = MarketWatch(self.db, self.prices, reader, policy=policy, clock=self.clock)

        def peg_history(symbol: str) -> list[tuple[datetime, Decimal]]:
            monitor = watch.monitor()
            return monitor.recent(symbol) if monitor is not None else []

        self.prices.peg_history = peg_history  # /depeg risk scores see the recent trend
        return watch

    @cached_property
    def digests(self) -> DigestService:
        """Daily digests (built on demand and swept on schedule)."""
        from agents.summary import build_summariser
        from tools.digest.service import DigestService

        if self.summariser is None:
            self.summariser = build_summariser(model_config(self.settings))
        return DigestService(
            self.db,
            self.prices,
            clock=self.clock,
            chart_dir=self.settings.data_dir / "digests",
            summarise=self.summariser,
            batch_size=self.settings.digest.batch_size,
        )

    async def market_tick(self) -> None:
        """The scheduler's market job: refresh the caches, then evaluate alerts and the
        depeg monitor (within the same deadline)."""
        deadline = max(5.0, self.settings.market_refresh_s * 0.8)
        try:
            async with asyncio.timeout(deadline):
                await self.refresh_market()
                report = await self.watch.tick()
        except TimeoutError:
            logger.warning("market tick missed its %.0f s deadline", deadline)
            return
        if report.firings or report.depeg_events:
            logger.info(
                "market tick: %d alerts fired, %d depeg messages, %d queued (%.2f s)",
                report.firings,
                report.depeg_events,
                report.queued,
                report.seconds,
            )

    async def refresh_market(self) -> None:
        """Warm the caches (top coins, stablecoins) and persist the live quotes.

        The whole tick has a deadline (80 % of the refresh interval), so slow providers
        can never make runs pile up.
        """
        deadline = max(5.0, self.settings.market_refresh_s * 0.8)
        try:
            async with asyncio.timeout(deadline):
                report = await self.prices.get_top(REFRESH_TOP_N)
                saved = await self.quote_store.save(report.quotes)
                await self.prices.get_stablecoin_status()
        except TimeoutError:
            logger.warning("market refresh missed its %.0f s deadline", deadline)
            return
        logger.debug("market refreshed: %d quotes, %d saved", len(report.quotes), saved)


def market_config(settings: Settings) -> MarketConfig:
    """Plain market settings for the market factory."""
    providers = settings.providers
    key = providers.coingecko_api_key
    return MarketConfig(
        mode=settings.market.value,
        coingecko_api_key=key.get_secret_value() if key is not None else None,
        coingecko_plan=providers.coingecko_plan,
        binance_base_url=providers.binance_base_url,
        timeout_s=providers.timeout_s,
        quote_ttl_s=providers.quote_ttl_s,
        top_ttl_s=providers.top_ttl_s,
        history_ttl_s=providers.history_ttl_s,
        stablecoin_ttl_s=providers.stablecoin_ttl_s,
        seed=settings.offline.seed,
        replays=dict(settings.offline.replay),
        replay_speed=settings.offline.replay_speed,
    )


def model_config(settings: Settings) -> ModelConfig:
    """The agent's model settings (offline router or an OpenAI-compatible endpoint)."""
    from agents.model import ModelConfig

    key = settings.openai.api_key
    return ModelConfig(
        mode=settings.llm.value,
        api_key=key.get_secret_value() if key is not None else None,
        base_url=settings.openai.base_url,
        model=settings.openai.model,
        timeout_s=settings.openai.timeout_s,
    )


@asynccontextmanager
async def open_agent(app: App) -> AsyncIterator[AgentService]:
    """Build the agent (model, tools, checkpointer) and close its checkpointer on exit.

    LangChain is imported here, not at module level, so commands that need no agent
    start fast.
    """
    from agents.graph import build_agent
    from agents.guard import TokenBudget, TurnLimiter
    from agents.model import build_chat_model, uses_llm
    from agents.service import AgentService
    from memory import open_checkpointer
    from tools.adapters import build_tools

    settings, clock = app.settings, app.clock
    config = model_config(settings)
    limits = settings.agent
    tools = build_tools(
        app.prices,
        app.users,
        history=app.history,
        charts=app.charts,
        technicals=app.technicals,
        formulas=app.formulas,
        backtests=app.backtests,
        sentiment=app.sentiment,
        portfolios=app.portfolios,
        alerts=app.alerts,
        digests=app.digests,
    )
    async with open_checkpointer(settings.resolved_database_url) as checkpointer:
        graph = build_agent(
            build_chat_model(config),
            tools,
            checkpointer=checkpointer,
            history_exchanges=limits.history_exchanges,
            max_model_calls=limits.max_model_calls,
        )
        paid = uses_llm(config)
        logger.info("Agent model: %s", f"{config.model} (OpenAI-compatible)" if paid else "offline")
        yield AgentService(
            graph,
            app.users,
            limiter=TurnLimiter(limits.turns_per_minute, limits.turns_per_day, clock=clock),
            budget=TokenBudget(limits.daily_token_budget, clock=clock) if paid else None,
            recursion_limit=limits.recursion_limit,
            max_message_chars=limits.max_message_chars,
        )


@asynccontextmanager
async def open_app(
    settings: Settings,
    *,
    migrate: bool = True,
    clock: Clock | None = None,
    with_agent: bool = False,
) -> AsyncIterator[App]:
    """Open the database, market and services (and the agent); close them on exit."""
    clock = clock or SystemClock()
    db = Database.from_url(settings.resolved_database_url)
    market: MarketHandle | None = None
    stack = AsyncExitStack()
    application: App | None = None
    try:
        if migrate:
            await upgrade_database(db.engine)
        market = open_market(market_config(settings), clock=clock)
        resolver = SymbolResolver(market.market, clock=clock)
        store = QuoteStore(db)
        if market.live is not None:
            market.live.remember_quotes(await store.load([c.id for c in resolver.coins()]))
        depeg = settings.depeg
        prices = PriceService(
            market.market,
            resolver,
            thresholds=PegThresholds(depeg.warn_pct, depeg.high_pct, depeg.critical_pct),
            disagreement_pct=settings.providers.disagreement_pct,
            stale_after_s=settings.providers.stale_after_s,
            clock=clock,
        )
        users = UserService(
            db,
            admin_ids=settings.admin_ids,
            clock=clock,
            webhooks=settings.delivery.webhook_secret is not None,
            default_depeg_pct=settings.depeg.warn_pct,
        )
        if settings.market is MarketMode.OFFLINE:
            logger.info(
                "Market: offline (simulated%s)", ", with replays" if settings.offline.replay else ""
            )
        application = App(settings, db, market, prices, users, store, clock)
        if with_agent:
            application.agent = await stack.enter_async_context(open_agent(application))
        yield application
    finally:
        await stack.aclose()
        if application is not None:
            for close in application.closers:
                await close()
        if market is not None:
            await market.aclose()
        await db.dispose()

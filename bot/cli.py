"""The ``cryptoguard`` command line.

Heavy modules (settings, storage, market, numpy) are imported inside the commands so
that ``cryptoguard --help`` and ``--version`` start fast.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from bot.__version__ import __version__
from bot.replay_cli import replay_command

if TYPE_CHECKING:
    from bot.app import App
    from bot.settings import Settings

T = TypeVar("T")

app = typer.Typer(
    name="cryptoguard",
    help="CryptoGuard: prices, stablecoin depeg monitoring, analysis, alerts and portfolios.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(db_app, name="db")
discord_app = typer.Typer(help="Discord front-end.", no_args_is_help=True)
app.add_typer(discord_app, name="discord")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"cryptoguard {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """CryptoGuard command line."""


def _settings() -> Settings:
    from pydantic import ValidationError

    from bot.logging_setup import configure_logging
    from bot.settings import Settings

    try:
        settings = Settings()
    except ValidationError as exc:
        lines = [
            f"  {'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors()
        ]
        typer.echo("Invalid configuration:\n" + "\n".join(lines), err=True)
        raise typer.Exit(2) from None
    configure_logging(settings.log_level.value, _secret_values(settings))
    return settings


def _secret_values(settings: Settings) -> list[str]:
    secrets = [
        settings.openai.api_key,
        settings.telegram.token,
        settings.telegram.webhook_secret,
        settings.discord.token,
        settings.providers.coingecko_api_key,
    ]
    return [s.get_secret_value() for s in secrets if s is not None]


def _run(
    body: Callable[[App], Awaitable[T]], *, migrate: bool = True, with_agent: bool = False
) -> T:
    """Open the application, run ``body`` with it, close it; errors become messages."""
    from bot.app import open_app
    from bot.errors import render_error

    settings = _settings()

    async def runner() -> T:
        async with open_app(settings, migrate=migrate, with_agent=with_agent) as application:
            return await body(application)

    try:
        return asyncio.run(runner())
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    except Exception as exc:  # the edge: print a plain message, never a traceback
        typer.echo(render_error(exc), err=True)
        raise typer.Exit(1) from None


def _color() -> bool:
    from bot.console import stdout_is_terminal

    return stdout_is_terminal()


@app.command()
def run() -> None:
    """Start the configured front-ends and the scheduler (the console when no token is set)."""
    from bot.runner import run_application

    code = _run(run_application, with_agent=True)
    if code:
        raise typer.Exit(code)


@app.command()
def chat() -> None:
    """Talk to CryptoGuard in this terminal."""
    from bot.console import Console, local_user

    async def body(application: App) -> None:
        await application.users.ensure(local_user())
        await Console(application, color=_color()).run()

    _run(body, with_agent=True)


@app.command()
def ask(
    question: Annotated[str | None, typer.Argument(help="The question to ask")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print a JSON object")] = False,
    batch: Annotated[
        str | None,
        typer.Option("--batch", help='JSONL file of {"q": ...} objects, or - for stdin'),
    ] = None,
) -> None:
    """Ask the assistant one question (or a batch, each in a fresh conversation)."""
    import sys

    from bot.ask import answer_batch, answer_one

    if (question is None) == (batch is None):
        typer.echo("Give either a QUESTION or --batch FILE.", err=True)
        raise typer.Exit(2)
    if batch is not None:
        try:
            lines = sys.stdin.read() if batch == "-" else open(batch, encoding="utf-8").read()
        except OSError as exc:
            typer.echo(f"Cannot read {batch}: {exc.strerror}", err=True)
            raise typer.Exit(2) from None

        async def run_batch(application: App) -> None:
            await answer_batch(application, lines.splitlines(), json_output, typer.echo)

        _run(run_batch, with_agent=True)
        return

    async def run_one(application: App) -> None:
        await answer_one(application, question or "", json_output, typer.echo)

    _run(run_one, with_agent=True)


@app.command()
def price(
    symbols: Annotated[list[str], typer.Argument(help="Tickers or names, e.g. btc ethereum sol")],
    vs: Annotated[str, typer.Option("--vs", help="Quote currency (usd, eur, gbp, btc...)")] = "usd",
) -> None:
    """Show prices, 24h change, market cap and volume."""
    from bot.console_format import render_prices

    async def body(application: App) -> str:
        return render_prices(await application.prices.get_quotes(symbols, vs), color=_color())

    typer.echo(_run(body))


@app.command()
def top(
    n: Annotated[int, typer.Argument(help="How many coins (1-100)")] = 10,
    vs: Annotated[str, typer.Option("--vs", help="Quote currency")] = "usd",
) -> None:
    """Show the largest coins by market cap, with gainers and losers."""
    from bot.console_format import render_top

    async def body(application: App) -> str:
        return render_top(await application.prices.get_top(n, vs), color=_color())

    typer.echo(_run(body))


@app.command()
def depeg(
    symbols: Annotated[
        list[str] | None, typer.Argument(help="Stablecoins to show (default: the largest)")
    ] = None,
) -> None:
    """Show stablecoin peg health: deviation from each coin's own peg, supply trend."""
    from bot.console_format import render_stablecoins

    async def body(application: App) -> str:
        report = await application.prices.get_stablecoin_status(symbols or None)
        return render_stablecoins(report, color=_color())

    typer.echo(_run(body))


app.command("replay")(replay_command)


@app.command()
def backtest(
    symbol: Annotated[str, typer.Argument(help="Coin ticker or name (or a label for --csv)")],
    strategy: Annotated[
        str,
        typer.Argument(
            help="rsi_mean_reversion, macd_crossover, sma_crossover, bollinger_reversion, "
            "dca or buy_and_hold"
        ),
    ],
    period: Annotated[str, typer.Option(help="How far back: 90d, 6m, 1y, 2y...")] = "1y",
    interval: Annotated[str, typer.Option(help="Bar length: 1h, 4h or 1d")] = "1d",
    capital: Annotated[float, typer.Option(help="Initial capital")] = 10_000.0,
    fee: Annotated[float, typer.Option(help="Fee per fill, percent")] = 0.1,
    slippage: Annotated[float, typer.Option(help="Slippage per fill, percent")] = 0.05,
    csv: Annotated[
        Path | None, typer.Option(help="Backtest on OHLCV (or date,price) rows from this CSV")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
    trades: Annotated[Path | None, typer.Option(help="Write the trade list to this CSV")] = None,
) -> None:
    """Backtest a strategy and compare it with buy and hold."""
    from bot.backtest_cli import run_backtest_command

    async def body(application: App) -> str:
        return await run_backtest_command(
            application, symbol, strategy, period=period, interval=interval, capital=capital,
            fee=fee, slippage=slippage, csv=csv, as_json=json_output, trades_out=trades,
        )  # fmt: skip

    typer.echo(_run(body))


@app.command()
def chart(
    symbol: Annotated[str, typer.Argument(help="Coin ticker or name")],
    days: Annotated[int, typer.Option(help="How many days back")] = 30,
    interval: Annotated[str, typer.Option(help="Bar length: 1h, 4h, 1d or 1w")] = "1d",
    out: Annotated[Path | None, typer.Option(help="PNG file to write")] = None,
) -> None:
    """Draw a price chart (candles, volume, Bollinger Bands, RSI) to a PNG file."""
    import asyncio as aio

    async def body(application: App) -> str:
        attachment = await application.charts.price_chart(
            symbol, days, interval, overlays=["bbands", "sma20"], panel="rsi"
        )
        target = out or Path(attachment.filename)
        await aio.to_thread(target.write_bytes, attachment.data)
        return f"{attachment.caption}\nSaved to {target}"

    typer.echo(_run(body))


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision")] = "head",
) -> None:
    """Apply database migrations (also done automatically at start)."""
    from bot.errors import render_error
    from storage import upgrade_database

    settings = _settings()
    try:
        asyncio.run(upgrade_database(settings.resolved_database_url, revision))
    except Exception as exc:  # the edge
        typer.echo(render_error(exc), err=True)
        raise typer.Exit(1) from None
    typer.echo(f"Database at revision {revision}.")


@discord_app.command("sync")
def discord_sync(
    guild: Annotated[
        int | None, typer.Option("--guild", help="Sync to this server only (instant)")
    ] = None,
) -> None:
    """Register the slash commands with Discord: globally, or in one server."""

    async def body(application: App) -> str:
        from bot.discord.bot import DiscordFrontEnd
        from tools.errors import ConfigurationError

        token = application.settings.discord.token
        if token is None:
            raise ConfigurationError("No Discord token is set (CRYPTOGUARD_DISCORD__TOKEN).")
        frontend = DiscordFrontEnd(application, token.get_secret_value(), auto_sync=False)
        try:
            synced = await frontend.sync(guild)
        finally:
            await frontend.stop()
        where = f"to server {guild}" if guild is not None else "globally"
        return f"Synced {len(synced)} slash commands {where}."

    typer.echo(_run(body))


def main() -> None:
    """Console-script entry point."""
    app()

"""Typed slash-command options: choices for enums, channel types, autocomplete helpers.

Discord checks choices and ranges in the client before a command reaches the bot, and
shows at most 25 choices or autocomplete suggestions. Symbol suggestions come from the
price service's resolver index (the embedded catalogue plus every top list fetched),
ranked by market cap; their values are coin ids, so an ambiguous ticker picked from the
list means exactly that coin. Whatever is submitted is resolved again by the services
("re-checked on submit"): a typed symbol that matches nothing gets the usual
:class:`~tools.errors.UnknownSymbolError` message.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Iterable, Sequence
from functools import cache
from typing import Any, TypeVar

import discord
from discord import app_commands

from tools.alerts.rules import AlertKind
from tools.market.offline import SUPPORTED_VS
from tools.market.symbols import normalise
from tools.market.types import CoinRef

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: Discord shows at most this many choices or autocomplete suggestions.
MAX_CHOICES = 25
#: Longest choice name and value Discord accepts.
CHOICE_CHARS = 100
#: Time an autocomplete lookup may take (Discord waits 3 s for the answer).
AUTOCOMPLETE_BUDGET_S = 2.0

_UNRANKED = 10**9

ALERT_KINDS: list[app_commands.Choice[str]] = [
    app_commands.Choice(name=name, value=kind.value)
    for name, kind in (
        ("price above", AlertKind.PRICE_ABOVE),
        ("price below", AlertKind.PRICE_BELOW),
        ("% change within a window", AlertKind.PCT_CHANGE),
        ("stablecoin off its peg", AlertKind.DEPEG),
        ("RSI above", AlertKind.RSI_ABOVE),
        ("RSI below", AlertKind.RSI_BELOW),
        ("portfolio value above", AlertKind.PORTFOLIO_ABOVE),
        ("portfolio value below", AlertKind.PORTFOLIO_BELOW),
        ("saved formula above", AlertKind.FORMULA_ABOVE),
        ("saved formula below", AlertKind.FORMULA_BELOW),
    )
]
DIRECTIONS = [app_commands.Choice(name=d, value=d) for d in ("up", "down", "any")]
#: Bar lengths of charts and technical analysis.
CHART_INTERVALS = [app_commands.Choice(name=i, value=i) for i in ("1h", "4h", "1d", "1w")]
#: Bar lengths of backtests and RSI/formula alerts.
BAR_INTERVALS = [app_commands.Choice(name=i, value=i) for i in ("1h", "4h", "1d")]
WINDOWS = [
    app_commands.Choice(name=name, value=value)
    for name, value in (
        ("15 minutes", "15m"),
        ("1 hour", "1h"),
        ("4 hours", "4h"),
        ("24 hours", "24h"),
        ("7 days", "7d"),
        ("30 days", "30d"),
    )
]
PERIODS = [
    app_commands.Choice(name=name, value=value)
    for name, value in (
        ("30 days", "30d"),
        ("90 days", "90d"),
        ("6 months", "6m"),
        ("1 year", "1y"),
        ("2 years", "2y"),
        ("5 years", "5y"),
    )
]
TAX_METHODS = [app_commands.Choice(name=m, value=m) for m in ("FIFO", "LIFO", "HIFO")]
CURRENCIES = [app_commands.Choice(name=c.upper(), value=c) for c in SUPPORTED_VS]
SUBSCRIPTION_KINDS = [
    app_commands.Choice(name="stablecoin depeg alerts", value="depeg"),
    app_commands.Choice(name="daily market digest", value="digest"),
]
DIGEST_ACTIONS = [
    app_commands.Choice(name=name, value=value)
    for name, value in (
        ("send it now", "now"),
        ("turn it on", "on"),
        ("turn it off", "off"),
        ("set its time", "time"),
    )
]


@cache
def strategy_choices() -> list[app_commands.Choice[str]]:
    """The backtest strategies (numpy loads with them, so only when the tree is built)."""
    from tools.analysis.backtest import STRATEGIES

    return [
        app_commands.Choice(name=spec.title[:CHOICE_CHARS], value=name)
        for name, spec in list(STRATEGIES.items())[:MAX_CHOICES]
    ]


class PostableChannel(app_commands.Transformer):
    """A text or announcement channel of the server, as Discord resolved it.

    The value stays the resolved :class:`~discord.app_commands.AppCommandChannel` (or
    thread): subscriptions need only its id, so nothing depends on the member cache.
    """

    @property
    def type(self) -> discord.AppCommandOptionType:
        return discord.AppCommandOptionType.channel

    @property
    def channel_types(self) -> list[discord.ChannelType]:
        return [discord.ChannelType.text, discord.ChannelType.news]

    async def transform(self, interaction: discord.Interaction, value: Any, /) -> Any:
        if not isinstance(value, app_commands.AppCommandChannel | app_commands.AppCommandThread):
            raise app_commands.TransformerError(value, self.type, self)
        return value


def coin_suggestions(
    coins: Iterable[CoinRef], typed: str, limit: int = MAX_CHOICES
) -> list[CoinRef]:
    """Coins matching what the user typed so far, largest market cap first.

    Prefix matches of the ticker, name or id come first, then coins whose name or id
    merely contains the text; with nothing typed, the largest coins.
    """
    key = normalise(typed)
    ranked = sorted(coins, key=_rank)
    if not key:
        return ranked[:limit]
    prefix: list[CoinRef] = []
    inner: list[CoinRef] = []
    for coin in ranked:
        fields = (coin.symbol.lower(), coin.name.lower(), coin.id)
        if any(f.startswith(key) for f in fields):
            prefix.append(coin)
        elif key in coin.name.lower() or key in coin.id:
            inner.append(coin)
        if len(prefix) >= limit:
            break
    return (prefix + inner)[:limit]


def symbol_choices(
    coins: Iterable[CoinRef], current: str, *, several: bool = False
) -> list[app_commands.Choice[str]]:
    """Autocomplete choices for a coin option (name: ticker and name; value: coin id).

    With ``several`` the option holds a list ("btc eth so"): the last word is completed
    and the words before it are kept.
    """
    head, last = "", current.strip()
    if several and " " in last:
        head, _, last = last.rpartition(" ")
        head = " ".join(head.replace(",", " ").split())
    out: list[app_commands.Choice[str]] = []
    for coin in coin_suggestions(coins, last):
        value = f"{head} {coin.id}".strip()
        label = f"{coin.symbol.upper()} · {coin.name}"
        if head:
            label = f"{head.upper()} {label}"
        if len(value) > CHOICE_CHARS:
            continue
        out.append(app_commands.Choice(name=_clip(label), value=value))
    return out


def text_choices(values: Sequence[str], current: str) -> list[app_commands.Choice[str]]:
    """Up to 25 of ``values`` containing what was typed (prefix matches first)."""
    key = current.strip().lower()
    starts = [v for v in values if v.lower().startswith(key)]
    inside = [v for v in values if key and key in v.lower() and v not in starts]
    return [
        app_commands.Choice(name=_clip(v), value=v[:CHOICE_CHARS])
        for v in (starts + inside)[:MAX_CHOICES]
    ]


@cache
def timezones() -> tuple[str, ...]:
    """IANA zone names, common ones first."""
    from zoneinfo import available_timezones

    zones = sorted(z for z in available_timezones() if "/" in z and not z.startswith("Etc/"))
    return ("UTC", *zones)


async def within_budget(work: Awaitable[list[T]], what: str) -> list[T]:
    """``work``'s result, or nothing when it fails or takes longer than Discord waits."""
    try:
        return await asyncio.wait_for(work, AUTOCOMPLETE_BUDGET_S)
    except TimeoutError:
        logger.info("Discord: %s autocomplete took too long; no suggestions", what)
    except Exception:  # suggestions are optional; never fail the autocomplete
        logger.exception("Discord: %s autocomplete failed", what)
    return []


def _rank(coin: CoinRef) -> int:
    return coin.market_cap_rank if coin.market_cap_rank is not None else _UNRANKED


def _clip(text: str, limit: int = CHOICE_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"

"""Console portfolio commands: /edittrade and /portfolio currency, end to end."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from bot.app import App, open_app
from bot.console import Console
from bot.console_portfolio import HELP, EditArgsError, parse_edit_args
from bot.settings import Settings
from storage import Database
from tests.conftest import _truncate_all as truncate_all
from tools.clock import FakeClock

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


@pytest.fixture
async def offline_app(db: Database, database_url: str) -> AsyncIterator[App]:
    """The offline app on an empty database (``db`` truncates PostgreSQL first); emptied
    again afterwards, as other console tests share the console user and do not."""
    settings = Settings(_env_file=None, market="offline", database_url=database_url)
    async with open_app(settings, clock=FakeClock(NOW)) as application:
        yield application
    await truncate_all(db)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["12", "price=48k"], ("12", {"price": "48k"})),
        (
            ["#7", "qty=0.5", "Date=2026-01-02", "fee=$3", "side=sell", "coin=eth"],
            (
                "#7",
                {
                    "quantity": "0.5",
                    "date": "2026-01-02",
                    "fee": "$3",
                    "side": "sell",
                    "symbol": "eth",
                },
            ),
        ),
        (["3", "note=bought the dip"], ("3", {"note": "bought the dip"})),
        (["3", "note="], ("3", {"note": ""})),
    ],
)
def test_edit_args(args: list[str], expected: tuple[str, dict[str, str]]) -> None:
    assert parse_edit_args(args) == expected


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "Usage: /edittrade"),
        (["12"], "Usage: /edittrade"),
        (["12", "price", "48k"], '"price" is not FIELD=VALUE'),
        (["12", "colour=red"], 'Unknown field "colour"'),
        (["12", "qty=1", "quantity=2"], "quantity is given twice"),
        (["12", "price="], 'Give a value after "price="'),
    ],
)
def test_bad_edit_args(args: list[str], message: str) -> None:
    with pytest.raises(EditArgsError) as error:
        parse_edit_args(args)
    assert message in str(error.value)


def trade_id(answer: str) -> str:
    assert answer.startswith("Recorded trade #"), answer
    return answer.split("#", 1)[1].split(":", 1)[0]


async def test_edittrade(offline_app: App) -> None:
    console = Console(offline_app)
    buy = trade_id(await console.handle("/buy btc 1 at 40k on 2026-01-05"))
    sell = trade_id(await console.handle("/sell btc 0.5 at 50k on 2026-02-01"))
    edited = await console.handle(
        f'/edittrade {buy} qty=2 price=42,000 fee=10 note="first buy" date=2026-01-04'
    )
    assert edited.startswith(f"Updated trade #{buy}: bought 2 BTC at $42,000")
    assert "fee $10.00" in edited and "2026-01-04" in edited
    trades = {t.id: t for t in (await offline_app.portfolios.list_trades(console.user)).trades}
    changed = trades[int(buy)]
    assert (changed.quantity, changed.price, changed.fee, changed.note) == (
        Decimal(2),
        Decimal(42000),
        Decimal(10),
        "first buy",
    )
    before = await offline_app.portfolios.list_trades(console.user)
    # errors say what is wrong and change nothing
    for line, message in (
        (f"/edittrade {sell} qty=3", f"Trade #{sell} would then sell 3 BTC"),
        (f"/edittrade {buy} qty=0.1", f"would leave trade #{sell}"),
        (f"/edittrade {buy} qty=1,5", "comma"),
        (f"/edittrade {buy} date=2030-01-01", "future"),
        (f"/edittrade {buy} side=hold", "not buy or sell"),
        (f"/edittrade {buy} symbol=NOTACOINXYZ", "NOTACOINXYZ"),
        (f"/edittrade {buy} price=€40k", "is in EUR, but this portfolio is kept in USD"),
        ("/edittrade 999999 price=1", "No trade #999999"),
        ("/edittrade abc price=1", "is not a trade id"),
        (f"/edittrade {buy} size=1", 'Unknown field "size"'),
        (f"/edittrade {buy}", "Usage: /edittrade"),
    ):
        assert message in await console.handle(line), line
    assert await offline_app.portfolios.list_trades(console.user) == before
    cleared = await console.handle(f"/edittrade {buy} note=")
    assert cleared.startswith(f"Updated trade #{buy}")
    trades = {t.id: t for t in (await offline_app.portfolios.list_trades(console.user)).trades}
    assert trades[int(buy)].note is None
    assert "/edittrade ID" in HELP and "/portfolio currency" in HELP


async def test_portfolio_currency(offline_app: App) -> None:
    console = Console(offline_app)
    shown = await console.handle("/portfolio currency")
    assert shown.startswith('Portfolio "default" is kept in USD.')
    assert (
        await console.handle("/portfolio currency eur")
        == 'Created portfolio "default", kept in EUR.'
    )
    bought = await console.handle("/buy eth 2")
    assert "at the current price €" in bought
    assert "is in USD" in await console.handle("/buy btc 1 at $40k on 2026-01-05")
    summary = await console.handle("/portfolio")
    assert "2 ETH @ €" in summary and "$" not in summary
    refused = await console.handle("/portfolio currency usd")
    assert "holds 1 trade priced in EUR" in refused
    assert "USD or EUR" in await console.handle("/portfolio currency gbp")
    assert "Usage: /portfolio currency" in await console.handle("/portfolio currency eur now")
    tax = await console.handle("/tax")
    assert "No sales" in tax

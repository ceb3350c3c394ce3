"""Extractors: numbers, durations, intervals, dates, times, coins, currencies, zones, ..."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agents.offline.entities import (
    find_alert_ids,
    find_coins,
    find_formula,
    find_indicators,
    find_portfolio_name,
    find_quote_currency,
    find_strategy,
    find_targets,
    find_timezone,
)
from agents.offline.extract import (
    find_dates,
    find_durations,
    find_intervals,
    find_numbers,
    find_times,
    parse_number,
)
from agents.offline.text import correct_word, make_doc

TODAY = date(2025, 6, 15)  # a Sunday


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("95k", 95_000),
        ("$10,000", 10_000),
        ("1.5m", 1_500_000),
        ("0.5", 0.5),
        ("1e3", 1_000),
        ("2.5e-2", 0.025),
        ("3%", 3),
        ("0.5 %", 0.5),
        ("-5", -5),
        ("$5k", 5_000),
        ("2 million", 2_000_000),
        ("1,000,000.25", 1_000_000.25),
        ("1.2bn", 1.2e9),
        ("50 cents", 0.5),
        (".75", 0.75),
    ],
)
def test_parse_number_reads_what_people_write(text: str, value: float) -> None:
    assert parse_number(text) == pytest.approx(value)


@pytest.mark.parametrize(
    "text",
    ["1e400", "1,5", "100,5", "10,00", "abc", "", "1e309", "5 6", "1..5", "99999999999999999"],
)
def test_parse_number_rejects_unreadable_or_ambiguous(text: str) -> None:
    assert parse_number(text) is None


@given(st.integers(min_value=0, max_value=10**12))
def test_parse_number_round_trips_thousands_separators(n: int) -> None:
    assert parse_number(f"{n:,}") == n
    assert parse_number(f"${n}") == n


@given(st.text(max_size=40))
def test_find_numbers_never_raises(text: str) -> None:
    for number in find_numbers(text.lower()):
        assert number.start < number.end


def test_find_numbers_skips_taken_spans_and_flags_percent_and_dollar() -> None:
    found = find_numbers("above $4k and 3% in 2024-01-01", taken=[(20, 30)])
    assert [(n.value, n.percent, n.dollar) for n in found] == [
        (4000, False, True),
        (3, True, False),
    ]


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("for 6 months", 180),
        ("last 60 days", 60),
        ("a week", 7),
        ("over the past year", 365),
        ("for the last month", 30),
        ("2y", 730),
        ("within 24 hours", 1),
        ("in an hour", 1 / 24),
        ("a couple of weeks", 14),
    ],
)
def test_find_durations(text: str, days: float) -> None:
    (duration,) = find_durations(text)
    assert duration.days() == pytest.approx(days)


def test_compact_m_is_months_for_periods_minutes_for_windows_and_money_after_comparisons() -> None:
    (six,) = find_durations("backtest 6m")
    assert six.days() == pytest.approx(180)
    assert six.days(m_is_minutes=True) == pytest.approx(6 / 1440)
    assert find_durations("portfolio above 2m") == []
    assert find_durations("1.5m") == []


def test_find_intervals_tells_candles_from_spans() -> None:
    found = find_intervals("rsi on the 4h chart, hourly, 15m, last 4h, 7 days")
    assert [(i.value, i.explicit, i.after_duration_word) for i in found] == [
        ("4h", True, False),
        ("1h", True, False),
        ("15m", False, False),
        ("4h", False, True),
    ]


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("on 2024-03-01", "2024-03-01"),
        ("yesterday", "2025-06-14"),
        ("3 days ago", "2025-06-12"),
        ("last friday", "2025-06-13"),
        ("last sunday", "2025-06-08"),
        ("on march 5th", "2025-03-05"),
        ("on december 5", "2024-12-05"),
        ("5 march 2023", "2023-03-05"),
        ("13/04/2024", "2024-04-13"),
        ("04/13/2024", "2024-04-13"),
    ],
)
def test_find_dates(text: str, iso: str) -> None:
    (found,) = find_dates(text, TODAY)
    assert found.value is not None and found.value.isoformat() == iso


def test_ambiguous_or_impossible_dates_come_back_empty() -> None:
    assert [d.value for d in find_dates("03/04/2024 and 2024-02-30", TODAY)] == [None, None]
    assert find_dates("over the last month", TODAY) == []


@pytest.mark.parametrize(
    ("text", "hhmm"),
    [
        ("at 07:00", "07:00"),
        ("7am", "07:00"),
        ("7:30 pm", "19:30"),
        ("12am", "00:00"),
        ("noon", "12:00"),
        ("8 in the evening", "20:00"),
        ("21:15", "21:15"),
    ],
)
def test_find_times(text: str, hhmm: str) -> None:
    (found,) = find_times(text)
    assert found.value == hhmm


@pytest.mark.parametrize("text", ["25:00", "13pm", "7:75"])
def test_invalid_times_are_none(text: str) -> None:
    assert [t.value for t in find_times(text)] in ([None], [])


def test_coins_names_tickers_and_english_look_alikes() -> None:
    doc = make_doc("Ethereum, sol & $AVAX vs bitcoin cash; is btc near 100k? send me a link")
    assert [c.symbol for c in find_coins(doc)] == ["ETH", "SOL", "AVAX", "BCH", "BTC"]
    assert [c.symbol for c in find_coins(make_doc("price of near and link"))] == ["NEAR", "LINK"]
    assert [c.symbol for c in find_coins(make_doc("Price: ADA, DOT, LINK"))] == [
        "ADA",
        "DOT",
        "LINK",
    ]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("btc in EUR", "eur"),
        ("xrp in euros", "eur"),
        ("in yen", "jpy"),
        ("eth/gbp", "gbp"),
        ("eth in btc", "btc"),
        ("solana euro price", "eur"),
        ("btc chf", "chf"),
    ],
)
def test_quote_currency(text: str, code: str) -> None:
    found = find_quote_currency(make_doc(text))
    assert found is not None and found.code == code


@pytest.mark.parametrize("text", ["alert at 100 usd", "btc vs eth", "20 bucks", "price of btc"])
def test_no_quote_currency(text: str) -> None:
    assert find_quote_currency(make_doc(text)) is None


@pytest.mark.parametrize(
    ("text", "zone"),
    [
        ("timezone asia/tokyo", "Asia/Tokyo"),
        ("Tokyo", "Asia/Tokyo"),
        ("London", "Europe/London"),
        ("new york", "America/New_York"),
        ("CET", "Europe/Berlin"),
        ("UTC", "UTC"),
        ("utc+2", "Etc/GMT-2"),
        ("PST", "America/Los_Angeles"),
        ("Buenos Aires", "America/Argentina/Buenos_Aires"),
    ],
)
def test_find_timezone(text: str, zone: str) -> None:
    assert find_timezone(make_doc(text)) == zone


def test_indicators_with_aliases_and_parameters() -> None:
    text = "bollinger bands, stochastic, 50 day moving average, ema 20, rsi(14), macd"
    assert find_indicators(text) == ["BBANDS", "STOCH", "SMA", "EMA", "RSI", "MACD"]


@pytest.mark.parametrize(
    ("text", "strategy"),
    [
        ("rsi mean reversion", "rsi_mean_reversion"),
        ("a macd crossover", "macd_crossover"),
        ("golden cross", "sma_crossover"),
        ("sma crossover", "sma_crossover"),
        ("bollinger", "bollinger_reversion"),
        ("dollar cost averaging", "dca"),
        ("buy weekly", "dca"),
        ("buy and hold", "buy_and_hold"),
        ("hodl", "buy_and_hold"),
    ],
)
def test_find_strategy(text: str, strategy: str) -> None:
    assert find_strategy(text) == strategy


@pytest.mark.parametrize(
    ("text", "formula"),
    [
        ("evaluate RSI(7) - RSI(21) on ETH", "RSI(7) - RSI(21)"),
        ("compute SMA(20) / SMA(50) for BTC on the 4h", "SMA(20) / SMA(50)"),
        ("formula: EMA(12) - EMA(26)", "EMA(12) - EMA(26)"),
        ("what is SMA(50) - SMA(200) for bitcoin", "SMA(50) - SMA(200)"),
    ],
)
def test_find_formula_keeps_casing_and_drops_the_coin(text: str, formula: str) -> None:
    doc = make_doc(text)
    assert find_formula(doc, find_coins(doc)) == formula


@pytest.mark.parametrize(
    ("text", "targets"),
    [
        ("70% BTC 30% ETH", {"BTC": 70, "ETH": 30}),
        ("BTC 60 ETH 30 SOL 10", {"BTC": 60, "ETH": 30, "SOL": 10}),
        ("btc 0.8 eth 0.2", {"BTC": 0.8, "ETH": 0.2}),
        ("half btc half eth", {"BTC": 50, "ETH": 50}),
        ("70/30 between btc and eth", {"BTC": 70, "ETH": 30}),
        ("60% btc and the rest in eth", {"BTC": 60, "ETH": 40}),
    ],
)
def test_find_targets(text: str, targets: dict[str, float]) -> None:
    doc = make_doc(text)
    assert find_targets(doc, find_coins(doc)) == pytest.approx(targets)


def test_alert_ids_and_portfolio_names() -> None:
    assert find_alert_ids("remove alert #12") == [12]
    assert find_alert_ids("delete my alert number 7") == [7]
    assert find_alert_ids("delete alerts 1 and 2") == [1, 2]
    assert find_alert_ids("delete alerts 3, 4 and 5") == [3, 4, 5]
    assert find_alert_ids("remove #3 & #7, alert 9") == [3, 7, 9]
    assert find_alert_ids("delete alerts 2-4 and 8") == [2, 3, 4, 8]
    assert find_alert_ids("delete alert 4 and 5k") == [4]
    assert find_alert_ids("delete alert 3 and 10 more") == [3]
    assert len(find_alert_ids("delete alerts 1 to 100000")) == 101
    assert find_portfolio_name("buy 1 eth in my trading portfolio") == "trading"
    assert find_portfolio_name("show my portfolio called retirement") == "retirement"
    assert find_portfolio_name("show my portfolio") is None


@pytest.mark.parametrize(
    ("typo", "word"),
    [("pirce", "price"), ("alret", "alert"), ("portfolo", "portfolio"), ("etherum", "ethereum")],
)
def test_typos_of_key_words_are_corrected(typo: str, word: str) -> None:
    assert correct_word(typo) == word


@pytest.mark.parametrize("word", ["risks", "movers", "stale", "there", "tell"])
def test_ordinary_words_are_not_corrected(word: str) -> None:
    assert correct_word(word) is None


def test_doc_normalises_symbols_and_emojis_keeping_spans_aligned() -> None:
    doc = make_doc("Hey 👋 what’s the pirce of 0.5btc in €?")
    assert doc.text == "Hey what's the price of 0.5 btc in eur ?"
    assert len(doc.text) == len(doc.low)

"""Parsing target allocations: fractions or percents, checks and their messages."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tools.errors import UnknownSymbolError, UserInputError
from tools.portfolio.targets import normalised_percents, parse_targets

KNOWN = {"BTC", "ETH", "SOL", "USDT", "USDC"}


def _error(raw: dict[str, object]) -> str:
    with pytest.raises(UserInputError) as err:
        parse_targets(raw, KNOWN)  # type: ignore[arg-type]
    return err.value.user_message


@pytest.mark.parametrize(
    "raw",
    [
        {"BTC": 0.7, "ETH": 0.3},
        {"BTC": 70, "ETH": 30},
        {"BTC": "70%", "ETH": "30%"},
        {"BTC": "70", "ETH": "30"},
        {"btc": Decimal("0.7"), " eth ": "0.3"},
        {"BTC": "70 %", "ETH": 30},
    ],
)
def test_fractions_and_percents(raw: dict[str, object]) -> None:
    result = parse_targets(raw, KNOWN)  # type: ignore[arg-type]
    assert result == {"BTC": Decimal("0.7"), "ETH": Decimal("0.3")}
    assert all(isinstance(v, Decimal) for v in result.values())


def test_single_target_either_kind() -> None:
    assert parse_targets({"BTC": 1}, KNOWN) == {"BTC": Decimal(1)}
    assert parse_targets({"BTC": 100}, KNOWN) == {"BTC": Decimal(1)}
    assert parse_targets({"BTC": "100%"}, KNOWN) == {"BTC": Decimal(1)}


def test_cash_and_stablecoins_allowed() -> None:
    result = parse_targets({"BTC": 60, "USDC": 20, "cash": 20}, KNOWN)
    assert result == {"BTC": Decimal("0.6"), "USDC": Decimal("0.2"), "CASH": Decimal("0.2")}


def test_tolerance_half_a_point() -> None:
    assert sum(parse_targets({"BTC": 33.3, "ETH": 33.3, "SOL": 33.3}, KNOWN).values()) == Decimal(
        "0.999"
    )
    assert parse_targets({"BTC": 0.6, "ETH": 0.405}, KNOWN)["ETH"] == Decimal("0.405")
    assert "add up to 100.6%" in _error({"BTC": 60, "ETH": 40.6})


def test_wrong_sum_proposes_normalised() -> None:
    assert _error({"BTC": 70, "ETH": 25}) == (
        "Your targets add up to 95%, not 100%; normalised they would be BTC 73.7%, "
        "ETH 26.3%. Send that if you meant it."
    )
    assert _error({"BTC": 0.5, "ETH": 0.3}) == (
        "Your targets add up to 80%, not 100%; normalised they would be BTC 62.5%, "
        "ETH 37.5%. Send that if you meant it."
    )


def test_proposal_is_accepted_when_sent_back() -> None:
    message = _error({"BTC": 1, "ETH": 1, "SOL": 1})
    assert "BTC 33.4%, ETH 33.3%, SOL 33.3%" in message
    assert sum(parse_targets({"BTC": "33.4%", "ETH": "33.3%", "SOL": "33.3%"}, KNOWN).values()) == 1


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            {"BTC": 100, "ETH": 0},
            "The target for ETH is 0%; targets must be above 0% "
            "(leave a coin out to hold none of it).",
        ),
        (
            {"BTC": 120, "ETH": -20},
            "The target for ETH is -20%; targets must be above 0% "
            "(leave a coin out to hold none of it).",
        ),
        ({"BTC": "150%"}, "The target for BTC is 150%; no target can exceed 100%."),
        ({"BTC": "lots"}, 'The target for BTC ("lots") is not a number; write it like 60% or 0.6.'),
        ({"BTC": True}, "The target for BTC must be a number, like 60% or 0.6."),
        ({"BTC": "nan"}, "The target for BTC must be a finite number, like 60%."),
        ({}, "Give at least one target, for example BTC 60%, ETH 40%."),
        ({" ": 1}, "A target is missing its coin symbol."),
        (
            {"BTC": 50, "btc": 50},
            'BTC is listed twice (as "BTC" and "btc"); give each coin once.',
        ),
        (
            {"BTC": 50, "FOO": 25, "BAR": 25},
            "Unknown coins: FOO, BAR. Targets can name known coins, stablecoins or CASH.",
        ),
    ],
)
def test_rejections(raw: dict[str, object], message: str) -> None:
    assert _error(raw) == message


def test_single_unknown_symbol_is_unknown_symbol_error() -> None:
    with pytest.raises(UnknownSymbolError) as err:
        parse_targets({"BTC": 50, "DOGEY": 50}, KNOWN)
    assert err.value.user_message == 'Unknown coin "DOGEY".'


@given(
    st.dictionaries(
        st.sampled_from(sorted(KNOWN | {"CASH"})),
        st.integers(min_value=1, max_value=10_000),
        min_size=1,
    )
)
def test_normalised_percents_total_exactly_100(raw: dict[str, int]) -> None:
    shares = normalised_percents({s: Decimal(v) for s, v in raw.items()})
    assert sum(shares.values()) == Decimal(100)
    total = sum(raw.values())
    for s, v in raw.items():
        assert abs(shares[s] - Decimal(v) * 100 / total) <= Decimal("0.1")


@given(
    st.dictionaries(
        st.sampled_from(sorted(KNOWN)),
        st.integers(min_value=1, max_value=1_000),
        min_size=1,
    )
)
def test_any_wrong_sum_proposal_parses(raw: dict[str, int]) -> None:
    shares = normalised_percents({s: Decimal(v) for s, v in raw.items()})
    if any(v == 0 for v in shares.values()):
        return  # a share that rounds to 0.0% cannot be a target
    result = parse_targets({s: f"{v}%" for s, v in shares.items()}, KNOWN)
    assert sum(result.values()) == 1

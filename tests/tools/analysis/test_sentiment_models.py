"""The VADER scorer, label mapping and the transformers scorer's fallbacks (no torch needed)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest

from tools.analysis.sentiment_models import (
    CRYPTO_LEXICON,
    TransformersScorer,
    UnusableModelError,
    VaderScorer,
    make_scorer,
    polarity_map,
)
from tools.errors import ConfigurationError

# -- VADER --------------------------------------------------------------------------------


def test_vader_signs_of_clear_headlines() -> None:
    up, down, flat = VaderScorer().score(
        [
            "Ether rallies 6% as upgrade date is confirmed",
            "Hackers drain $40 million from a lending protocol",
            "Bitcoin miners meet in Austin on Tuesday",
        ]
    )
    assert up > 0.3
    assert down < -0.3
    assert flat == 0.0


def test_crypto_terms_fix_what_plain_vader_misses() -> None:
    texts = ["Solana plunges as liquidations mount", "Bitcoin hashrate hits new all-time high"]
    plain = VaderScorer(crypto_terms=False).score(texts)
    tuned = VaderScorer().score(texts)
    assert plain == [0.0, 0.0]  # neither "plunges", "liquidations" nor "all-time high" is known
    assert tuned[0] < -0.4
    assert tuned[1] > 0.3


def test_phrases_are_folded_before_scoring() -> None:
    scorer = VaderScorer()
    assert (
        scorer.prepare("BTC at an All-Time High, ETH at a record low")
        == "BTC at an ath, ETH at a atl"
    )
    assert scorer.prepare("Rug pull drains pool") == "rug drains pool"
    assert VaderScorer(crypto_terms=False).prepare("record high") == "record high"


def test_lexicon_values_are_on_vaders_scale() -> None:
    assert all(-4.0 <= v <= 4.0 for v in CRYPTO_LEXICON.values())
    assert all(k == k.lower() for k in CRYPTO_LEXICON)


def test_vader_scores_are_bounded_and_empty_text_is_zero() -> None:
    scores = VaderScorer().score(["", "   ", "best best best amazing wonderful rally surge soar"])
    assert scores[:2] == [0.0, 0.0]
    assert 0.9 < scores[2] <= 1.0
    assert VaderScorer().score([]) == []
    assert VaderScorer().method == "vader"
    assert VaderScorer().note is None


# -- labels -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("id2label", "expected"),
    [
        (
            {0: "positive", 1: "negative", 2: "neutral"},
            {"positive": 1, "negative": -1, "neutral": 0},
        ),
        ({0: "Bearish", 1: "Neutral", 2: "Bullish"}, {"Bearish": -1, "Neutral": 0, "Bullish": 1}),
        ({0: "NEG", 1: "NEU", 2: "POS"}, {"NEG": -1, "NEU": 0, "POS": 1}),
        ({0: "LABEL_0", 1: "LABEL_1"}, {"LABEL_0": -1, "LABEL_1": 1}),
        ({0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}, {"LABEL_0": -1, "LABEL_1": 0, "LABEL_2": 1}),
        (
            {"0": "1 star", "1": "3 stars", "2": "5 stars"},
            {"1 star": -1, "3 stars": 0, "5 stars": 1},
        ),
    ],
)
def test_polarity_map_conventions(
    id2label: dict[int, str] | dict[str, str], expected: dict[str, float]
) -> None:
    assert polarity_map(id2label) == expected


def test_polarity_map_overrides_and_refusals() -> None:
    assert polarity_map({0: "down", 1: "up"}, {"down": "negative", "up": 0.8}) == {
        "down": -1.0,
        "up": 0.8,
    }
    with pytest.raises(UnusableModelError, match="not a known sentiment label"):
        polarity_map({0: "spam", 1: "ham"})
    with pytest.raises(UnusableModelError, match="no positive and negative"):
        polarity_map({0: "neutral", 1: "positive"})
    with pytest.raises(UnusableModelError, match="not a known sentiment label"):
        polarity_map({0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2", 3: "LABEL_3"})
    with pytest.raises(UnusableModelError, match="not a polarity"):
        polarity_map({0: "a", 1: "b"}, {"a": "sideways"})
    assert issubclass(UnusableModelError, ConfigurationError)


# -- transformers fallbacks (no model needed) ---------------------------------------------


def test_make_scorer_picks_vader_without_a_model_path(tmp_path: Path) -> None:
    assert isinstance(make_scorer(None), VaderScorer)
    assert isinstance(make_scorer("  "), VaderScorer)
    scorer = make_scorer(tmp_path / "finbert")
    assert isinstance(scorer, TransformersScorer)
    assert scorer.method == "transformers:finbert"  # nothing loaded yet
    assert not scorer.loaded


def test_missing_transformers_falls_back_to_vader_with_a_reason(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "transformers", None)  # import now raises ImportError
    scorer = TransformersScorer(tmp_path)

    with caplog.at_level(logging.WARNING, logger="tools.analysis.sentiment_models"):
        scores = scorer.score(["Ether rallies 6% as upgrade date is confirmed", ""])

    assert scores == VaderScorer().score(["Ether rallies 6% as upgrade date is confirmed", ""])
    assert not scorer.loaded
    assert scorer.method == "vader"
    assert scorer.note is not None and "transformers is not installed" in scorer.note
    assert "using VADER" in caplog.text


def test_missing_model_directory_falls_back_to_vader(tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    scorer = TransformersScorer(tmp_path / "nowhere")
    assert scorer.load() is False
    assert scorer.method == "vader"
    assert scorer.note is not None and "no model directory" in scorer.note
    assert scorer.score(["Bitcoin surges"])[0] > 0


def test_load_is_attempted_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "transformers", None)
    scorer = TransformersScorer(tmp_path)
    assert scorer.load() is False
    monkeypatch.delitem(sys.modules, "transformers")
    assert scorer.load() is False  # not retried on every call
    assert scorer.score([]) == []

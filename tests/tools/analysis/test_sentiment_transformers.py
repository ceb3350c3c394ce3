"""TransformersScorer loading a tiny classifier that the tests build and save themselves.

The model is a 2-layer BERT with hidden size 32 and a 20-word WordPiece vocabulary, saved
with ``save_pretrained`` into a temporary directory and loaded back from there with
``local_files_only=True``: nothing is downloaded. Its classification head is set by hand
(zero weights, chosen biases) so its output, and so the expected score, is known exactly.

Skipped, with the reason, when torch or transformers is not installed (the ``nlp`` extra);
CI installs the extra and turns such skips into failures.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tools.analysis.sentiment_models import TransformersScorer, VaderScorer

VOCAB = [
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
    "bitcoin", "ether", "rally", "rallies", "crash", "hack", "etf", "record", "high",
    "the", "to", "as", "##s", "##ed", "$",
]  # fmt: skip


@pytest.fixture(scope="module")
def nlp() -> tuple[ModuleType, ModuleType]:
    """torch and transformers, or a skip naming the missing one (inside a test, so CI's
    ``CRYPTOGUARD_REQUIRE_NLP=1`` hook turns it into a failure)."""
    torch = pytest.importorskip("torch", reason="torch is not installed (the nlp extra)")
    transformers = pytest.importorskip(
        "transformers", reason="transformers is not installed (the nlp extra)"
    )
    return torch, transformers


def save_tiny_model(
    nlp: tuple[Any, Any], directory: Path, id2label: dict[int, str], bias: Sequence[float]
) -> Path:
    """Build, fix and save a tiny BERT sequence classifier plus its WordPiece tokenizer."""
    torch, transformers = nlp
    directory.mkdir(parents=True, exist_ok=True)
    vocab_file = directory / "vocab.txt"
    vocab_file.write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    tokenizer = transformers.BertTokenizer(vocab_file=str(vocab_file), do_lower_case=True)
    config = transformers.BertConfig(
        vocab_size=len(VOCAB),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        num_labels=len(id2label),
        id2label=id2label,
        label2id={v: k for k, v in id2label.items()},
    )
    torch.manual_seed(0)
    model = transformers.AutoModelForSequenceClassification.from_config(config)
    with torch.no_grad():
        model.classifier.weight.zero_()
        model.classifier.bias.copy_(torch.tensor(list(bias)))
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def softmax(logits: Sequence[float]) -> list[float]:
    exps = [math.exp(x) for x in logits]
    return [e / sum(exps) for e in exps]


@pytest.fixture(scope="module")
def finbert_like(nlp: tuple[Any, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Named labels in FinBERT's order (positive, negative, neutral); strongly positive."""
    root = tmp_path_factory.mktemp("models") / "tiny-finbert"
    return save_tiny_model(nlp, root, {0: "positive", 1: "negative", 2: "neutral"}, [2.0, 0.0, 0.5])


def test_loads_a_local_model_and_scores_p_positive_minus_p_negative(finbert_like: Path) -> None:
    scorer = TransformersScorer(finbert_like)

    assert scorer.load() is True
    scores = scorer.score(["bitcoin rallies to record high", "the etf hack", ""])

    p_pos, p_neg, _ = softmax([2.0, 0.0, 0.5])
    assert scores[0] == pytest.approx(p_pos - p_neg, abs=1e-5)
    assert scores[1] == pytest.approx(p_pos - p_neg, abs=1e-5)
    assert scores[2] == 0.0  # empty text is neutral, not whatever the model says about ""
    assert scorer.method == "transformers:tiny-finbert"
    assert scorer.note is None
    assert scorer.labels == {"positive": 1.0, "negative": -1.0, "neutral": 0.0}


def test_generic_label_names_use_the_three_class_convention(
    nlp: tuple[Any, Any], tmp_path: Path
) -> None:
    path = save_tiny_model(
        nlp, tmp_path / "tiny-generic", {0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}, [3.0, 0.0, 0.0]
    )
    scorer = TransformersScorer(path)

    (score,) = scorer.score(["ether crash"])

    p_neg, _, p_pos = softmax([3.0, 0.0, 0.0])
    assert score == pytest.approx(p_pos - p_neg, abs=1e-5)
    assert score < -0.8
    assert scorer.labels == {"LABEL_0": -1.0, "LABEL_1": 0.0, "LABEL_2": 1.0}


def test_label_map_overrides_unusual_names(nlp: tuple[Any, Any], tmp_path: Path) -> None:
    path = save_tiny_model(nlp, tmp_path / "tiny-updown", {0: "down", 1: "up"}, [0.0, 1.0])
    scorer = TransformersScorer(path, label_map={"down": "negative", "up": "positive"})

    (score,) = scorer.score(["bitcoin"])

    p_down, p_up = softmax([0.0, 1.0])
    assert score == pytest.approx(p_up - p_down, abs=1e-5)


def test_unrecognised_labels_fall_back_to_vader(nlp: tuple[Any, Any], tmp_path: Path) -> None:
    path = save_tiny_model(nlp, tmp_path / "tiny-spam", {0: "spam", 1: "ham"}, [0.0, 0.0])
    scorer = TransformersScorer(path)

    scores = scorer.score(["Ether rallies 6% as upgrade date is confirmed"])

    assert scores == VaderScorer().score(["Ether rallies 6% as upgrade date is confirmed"])
    assert scorer.method == "vader"
    assert scorer.note is not None and "'spam'" in scorer.note


def test_a_directory_without_weights_falls_back_to_vader(
    nlp: tuple[Any, Any], tmp_path: Path
) -> None:
    broken = tmp_path / "half-copied"
    broken.mkdir()
    (broken / "config.json").write_text(json.dumps({"model_type": "bert"}), encoding="utf-8")
    scorer = TransformersScorer(broken)

    assert scorer.load() is False
    assert scorer.method == "vader"
    assert scorer.note is not None and "could not load" in scorer.note
    assert scorer.score(["Bitcoin surges"])[0] > 0


def test_long_text_is_truncated_not_rejected(finbert_like: Path) -> None:
    scorer = TransformersScorer(finbert_like, max_length=16)
    (score,) = scorer.score(["bitcoin rallies " * 200])
    assert -1.0 <= score <= 1.0


async def test_service_reports_the_model_it_used(finbert_like: Path) -> None:
    from tests.tools.market.fakes import FakeMarket
    from tools.analysis.sentiment import SentimentService
    from tools.clock import FakeClock
    from tools.market.symbols import SymbolResolver

    clock = FakeClock(datetime(2026, 1, 1, tzinfo=UTC))
    service = SentimentService(
        None, None, SymbolResolver(FakeMarket()), TransformersScorer(finbert_like), clock
    )

    report = await service.analyse("eth")

    p_pos, p_neg, _ = softmax([2.0, 0.0, 0.5])
    assert report.method == "transformers:tiny-finbert"
    assert report.score == pytest.approx(p_pos - p_neg, abs=1e-5)
    assert report.headlines_used >= 5
    assert report.notice is not None and "not live news" in report.notice

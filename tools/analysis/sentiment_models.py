"""Headline sentiment scorers: VADER by default, a local transformers classifier when configured.

Every scorer maps a batch of texts to compound scores in ``[-1, 1]`` (negative to positive)
and says which method produced them (:attr:`SentimentScorer.method`), so reports can state
it.

* :class:`VaderScorer`: VADER (Hutto & Gilbert, 2014), a rule-based lexicon method tuned
  for short social-media text; the score is its normalised ``compound`` value. VADER's
  general-purpose lexicon misses market vocabulary ("surges", "plunges", "bearish",
  "liquidations", "exploit" as a hack), so :data:`CRYPTO_LEXICON` adds a few dozen terms
  on VADER's own -4..+4 valence scale, and :data:`CRYPTO_PHRASES` folds phrases like
  "all-time high" into one token before scoring. Both can be switched off.
* :class:`TransformersScorer`: a sequence-classification model from a local directory
  (``transformers.pipeline("text-classification", model=path, local_files_only=True)``),
  e.g. a FinBERT-style financial sentiment model. The score is
  ``P(positive) - P(negative)`` (or, for star-rating models, the expected polarity). Labels
  are read from the model config's ``id2label``. ``transformers``/``torch`` are imported
  only when the model is first loaded. If either is missing, the directory is not a
  loadable model, or its labels mean nothing recognisable, the scorer logs why and scores
  with VADER instead; :attr:`TransformersScorer.note` carries the reason for reports.

Scorers are synchronous (CPU-bound); services call them in a worker thread.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from tools.errors import ConfigurationError

logger = logging.getLogger(__name__)

#: Crypto and market terms missing from (or mis-valued in) VADER's lexicon, on its scale.
CRYPTO_LEXICON: dict[str, float] = {
    # up
    "bullish": 2.0,
    "bull": 1.0,
    "surge": 1.8,
    "surges": 1.8,
    "surged": 1.8,
    "soar": 2.0,
    "soars": 2.0,
    "soared": 2.0,
    "rally": 1.8,
    "rallies": 1.8,
    "rallied": 1.8,
    "jump": 1.2,
    "jumps": 1.3,
    "jumped": 1.3,
    "climb": 1.0,
    "climbs": 1.1,
    "climbed": 1.1,
    "rise": 0.9,
    "rises": 1.0,
    "rose": 1.0,
    "rebound": 1.4,
    "rebounds": 1.4,
    "rebounded": 1.4,
    "recovery": 1.3,
    "recovers": 1.3,
    "inflow": 1.2,
    "inflows": 1.2,
    "breakout": 1.5,
    "outperforms": 1.5,
    "ath": 2.2,
    "adoption": 1.2,
    "accumulate": 0.9,
    "accumulates": 0.9,
    # down
    "bearish": -2.0,
    "bear": -1.0,
    "plunge": -2.3,
    "plunges": -2.3,
    "plunged": -2.3,
    "crashes": -2.0,
    "crashed": -2.0,
    "tumble": -1.8,
    "tumbles": -1.8,
    "tumbled": -1.8,
    "slump": -1.8,
    "slumps": -1.8,
    "slumped": -1.8,
    "selloff": -1.8,
    "sell-off": -1.8,
    "dumps": -1.6,
    "slide": -1.1,
    "slides": -1.2,
    "slid": -1.2,
    "sinks": -1.4,
    "sank": -1.4,
    "falls": -1.0,
    "fell": -1.0,
    "drops": -1.1,
    "dropped": -1.1,
    "outflow": -1.2,
    "outflows": -1.2,
    "liquidation": -1.5,
    "liquidations": -1.5,
    "liquidated": -1.6,
    "hack": -2.2,
    "hacks": -2.2,
    "hacker": -1.8,
    "hackers": -1.8,
    "exploit": -2.0,
    "exploits": -2.0,
    "drained": -2.0,
    "stolen": -2.2,
    "delist": -1.8,
    "delists": -1.8,
    "delisted": -1.8,
    "delisting": -1.8,
    "halt": -1.2,
    "halts": -1.2,
    "halted": -1.4,
    "outage": -1.6,
    "sues": -1.6,
    "sued": -1.6,
    "fined": -1.8,
    "crackdown": -1.8,
    "probe": -0.8,
    "subpoena": -1.2,
    "insolvent": -2.5,
    "insolvency": -2.5,
    "rekt": -2.0,
    "rug": -2.0,
    "depeg": -2.0,
    "depegs": -2.0,
    "depegged": -2.0,
    "atl": -2.0,
}

#: Phrases folded into one lexicon token before VADER scores a text.
CRYPTO_PHRASES: dict[str, str] = {
    r"\ball[- ]time highs?\b": "ath",
    r"\brecord highs?\b": "ath",
    r"\ball[- ]time lows?\b": "atl",
    r"\brecord lows?\b": "atl",
    r"\brug[- ]pull(?:s|ed)?\b": "rug",
    r"\bsell[- ]offs?\b": "selloff",
    r"\bde-?pegs?\b": "depeg",
    r"\bde-?pegged\b": "depegged",
}
_PHRASES = [(re.compile(p, re.IGNORECASE), token) for p, token in CRYPTO_PHRASES.items()]

#: Label words (lower-case) and the polarity they stand for.
_LABEL_WORDS: dict[str, float] = {
    "positive": 1.0,
    "pos": 1.0,
    "bullish": 1.0,
    "bull": 1.0,
    "negative": -1.0,
    "neg": -1.0,
    "bearish": -1.0,
    "bear": -1.0,
    "neutral": 0.0,
    "neu": 0.0,
    "mixed": 0.0,
    "none": 0.0,
}
_GENERIC = re.compile(r"^label_(\d+)$")
_STARS = re.compile(r"^([1-5]) stars?$")


class SentimentScorer(Protocol):
    """Scores texts from -1 (very negative) to +1 (very positive)."""

    @property
    def method(self) -> str:
        """What scored the texts: ``"vader"`` or ``"transformers:<model>"``."""
        ...

    @property
    def note(self) -> str | None:
        """Why the configured method is not the one in use (a fallback), else ``None``."""
        ...

    def score(self, texts: Sequence[str]) -> list[float]:
        """Return one compound score in ``[-1, 1]`` per text, in order."""
        ...


class VaderScorer:
    """VADER compound scores, with crypto market terms added to the lexicon.

    Args:
        crypto_terms: Add :data:`CRYPTO_LEXICON` and fold :data:`CRYPTO_PHRASES`.
    """

    method = "vader"
    note: str | None = None

    def __init__(self, *, crypto_terms: bool = True) -> None:
        self.crypto_terms = crypto_terms
        self._analyzer: Any = None
        self._lock = threading.Lock()

    def _get(self) -> Any:
        with self._lock:
            if self._analyzer is None:
                from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

                analyzer = SentimentIntensityAnalyzer()
                if self.crypto_terms:
                    analyzer.lexicon.update(CRYPTO_LEXICON)
                self._analyzer = analyzer
            return self._analyzer

    def prepare(self, text: str) -> str:
        """The text as VADER sees it (crypto phrases folded when enabled)."""
        if not self.crypto_terms:
            return text
        for pattern, token in _PHRASES:
            text = pattern.sub(token, text)
        return text

    def score(self, texts: Sequence[str]) -> list[float]:
        """VADER ``compound`` per text (``0.0`` for empty text)."""
        analyzer = self._get()
        out: list[float] = []
        for text in texts:
            if not text.strip():
                out.append(0.0)
                continue
            out.append(float(analyzer.polarity_scores(self.prepare(text))["compound"]))
        return out


class TransformersScorer:
    """A local text-classification model; falls back to VADER when it cannot be used.

    Nothing is imported or loaded until :meth:`load` or the first :meth:`score`.

    Args:
        model_path: Directory holding the model and tokenizer (``save_pretrained`` output).
            Nothing is downloaded: loading uses ``local_files_only=True``.
        label_map: Overrides for labels the config names oddly, label -> ``"positive"``,
            ``"negative"``, ``"neutral"`` or a polarity in ``[-1, 1]``.
        batch_size: Texts per forward pass.
        max_length: Tokens per text (longer headlines are truncated).
        fallback: Scorer used when the model cannot be used (default :class:`VaderScorer`).
    """

    def __init__(
        self,
        model_path: str | Path,
        *,
        label_map: Mapping[str, str | float] | None = None,
        batch_size: int = 16,
        max_length: int = 128,
        fallback: SentimentScorer | None = None,
    ) -> None:
        self.model_path = Path(model_path).expanduser()
        self.label_map = dict(label_map or {})
        self.batch_size = batch_size
        self.max_length = max_length
        self.fallback: SentimentScorer = fallback or VaderScorer()
        self.model_name = self.model_path.name or str(self.model_path)
        self._pipeline: Any = None
        self._polarity: dict[str, float] = {}
        self._failure: str | None = None
        self._attempted = False
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        """Whether the model is loaded and in use."""
        return self._pipeline is not None

    @property
    def method(self) -> str:
        """``"transformers:<model dir name>"``, or the fallback's method after a failed load."""
        if self._failure is not None:
            return self.fallback.method
        return f"transformers:{self.model_name}"

    @property
    def note(self) -> str | None:
        """Why VADER is used instead of the configured model, if it is."""
        if self._failure is None:
            return None
        return (
            f"transformers model {self.model_name!r} not used ({self._failure}); scored with VADER"
        )

    @property
    def labels(self) -> dict[str, float]:
        """The model's labels and the polarity each stands for (empty until loaded)."""
        return dict(self._polarity)

    def load(self) -> bool:
        """Load the model once (blocking; call from a worker thread in async code).

        Returns:
            ``True`` when the model is in use, ``False`` when the fallback is.
        """
        with self._lock:
            if not self._attempted:
                self._attempted = True
                try:
                    self._pipeline, self._polarity = self._load()
                except UnusableModelError as exc:
                    self._failure = str(exc)
                    logger.warning(
                        "Sentiment model %s unavailable, using VADER: %s",
                        self.model_path,
                        exc,
                    )
                else:
                    logger.info(
                        "Sentiment model %s loaded (labels %s)", self.model_path, self._polarity
                    )
            return self._pipeline is not None

    def _load(self) -> tuple[Any, dict[str, float]]:
        try:
            import transformers
        except ImportError as exc:
            raise UnusableModelError(f"transformers is not installed ({exc.name})") from exc
        if not self.model_path.is_dir():
            raise UnusableModelError(f"no model directory at {self.model_path}")
        try:
            pipe = transformers.pipeline(
                "text-classification",
                model=str(self.model_path),
                tokenizer=str(self.model_path),
                local_files_only=True,
                top_k=None,
                device="cpu",
            )
        except Exception as exc:  # anything a broken model directory raises
            raise UnusableModelError(
                f"could not load: {type(exc).__name__}: {_short(exc)}"
            ) from exc
        id2label = getattr(pipe.model.config, "id2label", None) or {}
        polarity = polarity_map(id2label, self.label_map)
        return pipe, polarity

    def score(self, texts: Sequence[str]) -> list[float]:
        """``P(positive) - P(negative)`` per text, or the fallback's score."""
        if not texts:
            return []
        if not self.load():
            return self.fallback.score(texts)
        try:
            with self._lock:
                outputs = self._pipeline(
                    [t if t.strip() else "." for t in texts],
                    batch_size=self.batch_size,
                    truncation=True,
                    max_length=self.max_length,
                )
        except Exception as exc:  # a model that loads but cannot run: stop using it
            logger.exception("Sentiment model %s failed; switching to VADER", self.model_path)
            self._failure = f"inference failed: {type(exc).__name__}: {_short(exc)}"
            self._pipeline = None
            return self.fallback.score(texts)
        out: list[float] = []
        for text, ranked in zip(texts, outputs, strict=True):
            if not text.strip():
                out.append(0.0)
                continue
            total = sum(self._polarity[r["label"]] * float(r["score"]) for r in ranked)
            out.append(max(-1.0, min(1.0, total)))
        return out


class UnusableModelError(ConfigurationError):
    """The configured sentiment model cannot be used; ``detail`` says why.

    :class:`TransformersScorer` catches it and falls back to VADER; it escapes only from
    :func:`polarity_map` when called directly.
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__("The configured sentiment model cannot be used.", detail=reason)

    def __str__(self) -> str:
        return self.reason


def polarity_map(
    id2label: Mapping[int, str] | Mapping[str, str],
    overrides: Mapping[str, str | float] | None = None,
) -> dict[str, float]:
    """Map a classifier's labels to polarities in ``[-1, 1]``.

    Named labels are recognised by word (positive/negative/neutral, bullish/bearish, pos/
    neg/neu) or as star ratings (``"1 star"`` .. ``"5 stars"`` -> -1 .. +1). Generic
    ``LABEL_n`` names follow the common conventions: two labels are negative, positive
    (SST-2); three are negative, neutral, positive (e.g. the Twitter-RoBERTa sentiment
    models). ``overrides`` win over all of that.

    Args:
        id2label: The model config's ``id2label``.
        overrides: Label -> ``"positive"``/``"negative"``/``"neutral"`` or a number.

    Returns:
        Label -> polarity, for every label.

    Raises:
        UnusableModelError: A label is not recognised, or there is no positive and negative.
    """
    labels = {int(k): str(v) for k, v in id2label.items()}
    count = len(labels)
    out: dict[str, float] = {}
    for index, label in sorted(labels.items()):
        out[label] = _label_polarity(label, index, count, overrides or {})
    if not any(v > 0 for v in out.values()) or not any(v < 0 for v in out.values()):
        raise UnusableModelError(f"labels {sorted(out)} have no positive and negative class")
    return out


def _label_polarity(
    label: str, index: int, count: int, overrides: Mapping[str, str | float]
) -> float:
    if label in overrides:
        given = overrides[label]
        if isinstance(given, int | float):
            return max(-1.0, min(1.0, float(given)))
        if given.lower() in _LABEL_WORDS:
            return _LABEL_WORDS[given.lower()]
        raise UnusableModelError(f"label_map value {given!r} for {label!r} is not a polarity")
    key = label.strip().lower()
    if key in _LABEL_WORDS:
        return _LABEL_WORDS[key]
    stars = _STARS.match(key)
    if stars:
        return (int(stars.group(1)) - 3) / 2
    generic = _GENERIC.match(key)
    if generic and int(generic.group(1)) == index:
        if count == 2:
            return (-1.0, 1.0)[index]
        if count == 3:
            return (-1.0, 0.0, 1.0)[index]
    raise UnusableModelError(f"label {label!r} is not a known sentiment label (set label_map)")


def make_scorer(model_path: str | Path | None = None) -> SentimentScorer:
    """The scorer for a configured model path: VADER when none, else a transformers model.

    Args:
        model_path: Local model directory, or ``None``/empty for VADER.

    Returns:
        A scorer; a :class:`TransformersScorer` falls back to VADER by itself.
    """
    if model_path is None or not str(model_path).strip():
        return VaderScorer()
    return TransformersScorer(model_path)


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:160] + "..." if len(text) > 160 else text

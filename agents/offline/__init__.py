"""The offline agent model's language understanding (no LLM, no extra packages).

``understand(text, available_tools=..., context=...)`` returns a :class:`ToolIntent`
(which tool, which arguments) or a :class:`ChatIntent` (greeting, help, off-topic,
a clarifying question or a refusal). An optional sentence-embedding classifier
(``nlp`` extra, all-MiniLM-L6-v2) can back up the cue-phrase recogniser:
``embedding_nlu()`` returns an :class:`OfflineNLU` that uses it when it can be loaded.
"""

from agents.offline.encoder import (
    EmbeddingIntentClassifier,
    IntentEncoder,
    MiniLMEncoder,
    embedding_nlu,
    load_classifier,
)
from agents.offline.nlu import OfflineNLU, understand
from agents.offline.types import (
    MUTATING_TOOLS,
    TOOL_NAMES,
    ChatIntent,
    Intent,
    ToolIntent,
    TurnContext,
)

__all__ = [
    "MUTATING_TOOLS",
    "TOOL_NAMES",
    "ChatIntent",
    "EmbeddingIntentClassifier",
    "Intent",
    "IntentEncoder",
    "MiniLMEncoder",
    "OfflineNLU",
    "ToolIntent",
    "TurnContext",
    "embedding_nlu",
    "load_classifier",
    "understand",
]

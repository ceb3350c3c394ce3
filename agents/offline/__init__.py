"""The offline agent model's language understanding (no LLM, no extra packages).

``understand(text, available_tools=..., context=...)`` returns a :class:`ToolIntent`
(which tool, which arguments) or a :class:`ChatIntent` (greeting, help, off-topic,
a clarifying question or a refusal). An optional sentence-embedding classifier
(``nlp`` extra, all-MiniLM-L6-v2) can back up the cue-phrase recogniser:
``embedding_nlu()`` returns an :class:`OfflineNLU` that uses it when it can be loaded.
``yes_or_no(text)`` tells an explicit answer to a confirmation question.
"""

from agents.offline.answers import Answer, yes_or_no
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
    "Answer",
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
    "yes_or_no",
]

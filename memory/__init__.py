"""Conversation memory: checkpointers, thread ids, history trimming."""

from memory.checkpointer import checkpoint_location, open_checkpointer
from memory.threads import thread_id
from memory.trim import DEFAULT_MAX_EXCHANGES, TrimHistoryMiddleware, trim_history

__all__ = [
    "DEFAULT_MAX_EXCHANGES",
    "TrimHistoryMiddleware",
    "checkpoint_location",
    "open_checkpointer",
    "thread_id",
    "trim_history",
]

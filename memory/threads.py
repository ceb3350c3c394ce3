"""Conversation thread ids: one thread per (platform, chat, user)."""

from __future__ import annotations


def thread_id(platform: str, chat_id: int | str, platform_user_id: str) -> str:
    """The checkpointer thread of a user in a chat (``telegram:-100123:42``)."""
    return f"{platform}:{chat_id}:{platform_user_id}"

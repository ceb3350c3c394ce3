"""The runtime context every tool receives from the agent (never from the model)."""

from __future__ import annotations

from dataclasses import dataclass, field

from tools.identity import ChatRef, UserRef
from tools.users import UserProfile


@dataclass
class ToolContext:
    """Who is asking and where, set by the front-end for one agent turn.

    Attributes:
        user: The platform identity of the speaker.
        chat: The chat the message came from.
        profile: The speaker's stored profile (preferences, long-term memory).
        done: Results of mutating tool calls already made in this turn, by call key, so
            a repeated identical call is answered without doing it twice.
    """

    user: UserRef
    chat: ChatRef
    profile: UserProfile | None = None
    done: dict[str, str] = field(default_factory=dict)

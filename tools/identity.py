"""Who is talking, as told by the platform (never by message text or model output)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class UserRef:
    """A user as identified by a front-end.

    Attributes:
        platform: ``"telegram"``, ``"discord"`` or ``"console"``.
        platform_user_id: The platform's own id for the user, as text.
        display_name: Name to greet the user with (not an identifier).
    """

    platform: str
    platform_user_id: str
    display_name: str | None = None


@dataclass(frozen=True, slots=True)
class ChatRef:
    """Where a message came from and where replies go.

    Attributes:
        platform: Same values as ``UserRef.platform``.
        chat_id: The platform's chat/channel id (may exceed 32 bits).
        private: True for a one-to-one chat with the bot.
    """

    platform: str
    chat_id: int
    private: bool = True

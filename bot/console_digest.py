"""Console commands for the daily digest and personal settings: /digest and /settings.
Parsing only; the work is done by DigestService and UserService."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from tools.attachments import Attachment
from tools.digest.service import DigestService
from tools.identity import UserRef
from tools.users import UserProfile, UserService

HELP = """\
  /digest now|on|off|time HH:MM  your daily digest now; turn it on or off; set its time
  /settings                   your settings; /settings tz Europe/Paris,
                              /settings depeg on|off|1.5 (alerts and threshold in %),
                              /settings webhook https://example.com/hook|off (signed JSON)"""

DIGEST_USAGE = "Usage: /digest now | on | off | time HH:MM, e.g. /digest time 07:30"
SETTINGS_USAGE = (
    "Usage: /settings | /settings tz REGION/CITY | /settings depeg on|off|PERCENT | "
    "/settings webhook URL|off, e.g. /settings tz Europe/Paris or /settings depeg 1.5"
)

Attach = Callable[[Attachment], Awaitable[str]]


class DigestCommands:
    """The /digest and /settings commands of the console.

    Args:
        digests: The digest service.
        users: The user service (settings).
        user: The console user.
        attach: Hands a file to the front-end; returns the line to show.
    """

    def __init__(
        self, digests: DigestService, users: UserService, user: UserRef, attach: Attach
    ) -> None:
        self.digests = digests
        self.users = users
        self.user = user
        self.attach = attach

    def commands(self) -> dict[str, Callable[[list[str]], Awaitable[str]]]:
        """Command name -> handler."""
        return {"digest": self.digest, "settings": self.settings}

    async def digest(self, args: list[str]) -> str:
        """/digest [now|on|off|time HH:MM]."""
        action = args[0].lower() if args else ""
        if not args:
            return f"{_digest_status(await self.users.ensure(self.user))}\n{DIGEST_USAGE}"
        if action == "now" and len(args) == 1:
            digest = await self.digests.build_for(self.user)
            notes = [await self.attach(a) for a in digest.attachments]
            return "\n".join([digest.text, *(n for n in notes if n)])
        if action in {"on", "off"} and len(args) == 1:
            _, changes = await self.users.update_settings(self.user, digest_enabled=action == "on")
            return " ".join(changes)
        if action == "time" and len(args) == 2:
            profile, changes = await self.users.update_settings(self.user, digest_time=args[1])
            return f"{' '.join(changes)} ({profile.timezone})"
        return DIGEST_USAGE

    async def settings(self, args: list[str]) -> str:
        """/settings [tz ZONE | depeg on|off|PERCENT | webhook URL|off]."""
        if not args:
            return _settings_text(await self.users.ensure(self.user))
        key = args[0].lower()
        if key in {"tz", "timezone"} and len(args) >= 2:
            _, changes = await self.users.update_settings(self.user, timezone=" ".join(args[1:]))
            return " ".join(changes)
        if key == "webhook" and len(args) == 2:
            url = None if args[1].lower() == "off" else args[1]
            _, changes = await self.users.set_webhook(self.user, url)
            return " ".join(changes)
        if key == "depeg" and len(args) == 2:
            value = args[1].lower()
            if value in {"on", "off"}:
                return await self._depeg_alerts(value == "on")
            _, changes = await self.users.update_settings(self.user, depeg_threshold=args[1])
            return " ".join(changes)
        return SETTINGS_USAGE

    async def _depeg_alerts(self, enabled: bool) -> str:
        _, changes = await self.users.set_depeg_alerts(self.user, enabled)
        return " ".join(changes)


def _digest_status(profile: UserProfile) -> str:
    if not profile.digest_enabled:
        return "Your daily digest is off."
    return f"Your daily digest comes at {profile.digest_time:%H:%M} ({profile.timezone})."


def _settings_text(profile: UserProfile) -> str:
    digest = "on" if profile.digest_enabled else "off"
    depeg = "on" if profile.depeg_alerts_enabled else "off"
    return "\n".join(
        [
            "Your settings:",
            f"  timezone       {profile.timezone}",
            f"  daily digest   {digest}, at {profile.digest_time:%H:%M}",
            f"  depeg alerts   {depeg}, threshold {profile.depeg_threshold_pct}%",
            f"  base currency  {profile.base_currency}",
            f"  webhook        {profile.webhook_url or 'off'}",
            SETTINGS_USAGE,
        ]
    )

"""Files a capability hands back with its answer (chart images, CSV reports)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file to send along with a reply.

    Attributes:
        filename: Suggested file name (``btc-30d.png``).
        content_type: MIME type (``image/png``, ``text/csv``).
        data: The file's bytes.
        caption: A short caption to show with it.
    """

    filename: str
    content_type: str
    data: bytes
    caption: str = ""

"""The daily digest: market, stablecoins, the user's portfolio and alerts, one chart.

* :mod:`tools.digest.schedule`: when a digest is due (local time, DST, sign-up time).
* :mod:`tools.digest.shared`: the market sections, built once per sweep, and the chart.
* :mod:`tools.digest.build`: the personal sections, computed in bulk per batch of users.
* :mod:`tools.digest.text`: plain-text rendering from the templates in ``prompts/``.
* :mod:`tools.digest.service`: :class:`DigestService` (``build_for`` and ``sweep``).
"""

from tools.digest.schedule import due_date, scheduled_at
from tools.digest.service import Digest, DigestService, Summariser, SweepStats
from tools.digest.shared import SharedDigest, build_shared

__all__ = [
    "Digest",
    "DigestService",
    "SharedDigest",
    "Summariser",
    "SweepStats",
    "build_shared",
    "due_date",
    "scheduled_at",
]

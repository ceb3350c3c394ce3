"""Where the workspace's shared data (../shared) lives, for tests that replay real prices.

Looked up in order: ``CRYPTOGUARD_SHARED_DIR``, the ``shared`` folder next to this
checkout, ``/work/shared``. Tests that need it skip with a reason when none exists.
"""

from __future__ import annotations

import os
from pathlib import Path

_CANDIDATES = [
    os.environ.get("CRYPTOGUARD_SHARED_DIR", ""),
    str(Path(__file__).resolve().parents[2] / "shared"),
    "/work/shared",
]
SHARED = next((Path(p) for p in _CANDIDATES if p and Path(p, "stablecoins").is_dir()), None)
STABLECOINS = SHARED / "stablecoins" if SHARED else Path("/nonexistent/shared/stablecoins")
USDC_HOURLY = STABLECOINS / "usdc_usd_chainlink_hourly_20230309_20230312.csv"
SKIP_REASON = "the shared stablecoin data (../shared/stablecoins) is not present"

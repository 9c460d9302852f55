"""A deterministic, dependency-free token estimate.

Used where a count is needed without calling the API: the budget guard's worst case, the
project map's token budget, dry-run projections and the offline server's usage. Claude's
tokenizers average a little under four UTF-8 bytes per token on code and English, so this
errs slightly high, the safe side for a budget ceiling.
"""

from __future__ import annotations

import json
from typing import Any

BYTES_PER_TOKEN = 4


def estimate(text: str) -> int:
    size = len(text.encode("utf-8"))
    return -(-size // BYTES_PER_TOKEN)  # ceiling division


def estimate_json(value: Any) -> int:
    return estimate(json.dumps(value, separators=(",", ":"), sort_keys=True))

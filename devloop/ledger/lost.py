"""A lost ledger is an error: the books must not restart at $0 while money was spent.

The feature states under .devloop/features say which model steps finished; when the ledger
beside them is missing, empty or not a devloop ledger, reporting or running on would show $0
and give the whole budget back, so devloop stops and says how to restore it.
"""

from __future__ import annotations

from pathlib import Path

from devloop.errors import UsageError
from devloop.ledger.db import ledger_path, looks_blank
from devloop.ledger.engine import configured_url
from devloop.state import FINISHED, features_root, list_slugs, load
from devloop.steps import STEPS


class LedgerLost(UsageError):
    """The ledger is gone or empty while feature states show money was spent (exit 2)."""


def require_ledger(root: Path) -> None:
    """Refuse to go on when the ledger lost what the feature states say was spent: a
    missing, empty or schema-less ledger would report $0 and give the whole budget back.
    A shared (PostgreSQL) ledger is the team's to keep; its server says whether it can be
    reached (exit 4 when not)."""
    from devloop import config

    if configured_url(config.load(root).ledger.url):
        return
    path = ledger_path(root)
    if not looks_blank(path):
        return
    spent = []
    for slug in list_slugs(root):
        try:
            state = load(root, slug)
        except UsageError:
            continue
        done = [s for s in STEPS if s.calls_model and state.steps[s.key].status in FINISHED]
        if done:
            spent.append(f"{slug} ({len(done)} model step(s) done)")
    if not spent:
        return
    what = (
        "missing"
        if not path.exists()
        else "empty"
        if path.stat().st_size == 0
        else "not a devloop ledger"
    )
    raise LedgerLost(
        f"the cost ledger {path} is {what}, but the feature state under {features_root(root)} "
        f"shows money was spent: {', '.join(spent)}. Without it devloop would report $0 and "
        "hand the whole budget back. Restore the ledger from a backup (it is one SQLite file, "
        "with -wal and -shm beside it while in use); to start the books over on purpose, move "
        f"{features_root(root)} aside too."
    )

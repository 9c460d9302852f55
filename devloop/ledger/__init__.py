"""ledger: the cost ledger, `.devloop/ledger.db` (SQLite in WAL mode), or a PostgreSQL
database a team shares (`[ledger] url`, DEVLOOP_LEDGER_URL).

- db.py: `Ledger`: opening the ledger, and every write (features, step runs, append-only
  calls), each recording who and where (`Origin`);
- engine.py: where it lives (the SQLite engine; `engine_for` picks one), migrations applied;
- postgres.py: the PostgreSQL engine (psycopg 3, imported only when a URL is configured),
  and how reservations lock across machines;
- reservations.py: budget reservations and their settlement (mixed into `Ledger`);
- queries.py: the read side, each report an aggregate query (mixed into `Ledger`);
- lost.py: a missing or empty ledger while feature states show spending is an error;
- records.py: the dataclasses it stores and returns;
- schema.py: migrations and column lists;
- baseline.py: the counterfactual all-frontier baseline, a replay of the recorded calls
  through the prompt-cache model (promptcache.py).

May import: the leaf modules (errors, money, usage, promptcache, steps, state, config). Nothing of model,
loop, agent, reports or cli: they record into it and read from it.
"""

from devloop.ledger.db import Ledger, ledger_path, looks_blank
from devloop.ledger.lost import LedgerLost, require_ledger
from devloop.ledger.records import (
    CALL_OUTCOMES,
    CacheUse,
    CallGroup,
    CallRecord,
    CallShape,
    CallSpan,
    Escalation,
    Feature,
    LedgerMissing,
    OpenReservation,
    Origin,
    OutcomeGroup,
    Refusal,
    RunCallStats,
    RunGroup,
    StepRunRecord,
    stamp,
)
from devloop.ledger.schema import INSERT_CALL, schema_version
from devloop.money import pico_to_usd, usd_to_pico

__all__ = [
    "CALL_OUTCOMES",
    "INSERT_CALL",
    "CacheUse",
    "CallGroup",
    "CallRecord",
    "CallShape",
    "CallSpan",
    "Escalation",
    "Feature",
    "Ledger",
    "LedgerLost",
    "LedgerMissing",
    "OpenReservation",
    "Origin",
    "OutcomeGroup",
    "Refusal",
    "RunCallStats",
    "RunGroup",
    "StepRunRecord",
    "ledger_path",
    "looks_blank",
    "pico_to_usd",
    "require_ledger",
    "schema_version",
    "stamp",
    "usd_to_pico",
]

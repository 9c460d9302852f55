"""The Door harness: the model door against the offline server, through the real SDK.

`harness(scenario, **budget)` starts a SimServer with the scenario, points the environment
at it and builds a Door over a real ledger in the test's repository, with an in-memory
exchange log. Used by test_llm.py and test_cost_truth.py (a pytest plugin: conftest.py).
"""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from devloop import config as config_mod
from devloop import model
from devloop.ledger import Ledger
from devloop.sim import SimServer

FAKE_KEY = "sk-ant-api03-RECOGNISABLE-fake-key-7f3a9c1e5b"
SYSTEM = "You are devloop's planner. " * 200  # long enough to be cached (> 1024 tokens)
VERDICT_SCHEMA = {
    "type": "object",
    "properties": {
        "verdict": {"type": "string", "enum": ["pass", "fail"]},
        "findings": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["verdict", "findings"],
    "additionalProperties": False,
}


class Exchanges:
    """An in-memory exchange log (the Door's transcripts)."""

    def __init__(self) -> None:
        self.items: list[tuple] = []

    def write(self, step, params, reply, meta) -> str:
        self.items.append((step, params, reply, meta))
        return str(len(self.items))

    def read(self, name: str) -> dict | None:
        step, params, reply, meta = self.items[int(name) - 1]
        return {"step": step, "request": params, "response": reply, "meta": meta}

    def find(self, reservation_id: int) -> str | None:
        for i, (*_, meta) in enumerate(self.items, 1):
            if meta.get("reservation") == reservation_id:
                return str(i)
        return None


class Harness:
    def __init__(self, repo: Path, scenario: dict, monkeypatch, **budget) -> None:
        self.sim = SimServer(scenario).start()
        monkeypatch.setenv("ANTHROPIC_BASE_URL", self.sim.base_url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", FAKE_KEY)
        self.cfg = config_mod.load(repo)
        for name, value in budget.items():
            setattr(self.cfg.budget, name, Decimal(str(value)))
        self.ledger = Ledger.open(repo)
        self.warnings: list[str] = []
        self.log = Exchanges()
        self.door = model.Door(
            self.cfg, self.ledger, "login", warn=self.warnings.append, exchanges=self.log
        )
        self.db = repo / ".devloop" / "ledger.db"

    def rows(self, sql: str = "SELECT * FROM calls ORDER BY id") -> list[sqlite3.Row]:
        conn = sqlite3.connect(self.db)
        conn.row_factory = sqlite3.Row
        try:
            return conn.execute(sql).fetchall()
        finally:
            conn.close()

    def close(self) -> None:
        self.ledger.close()
        self.sim.close()


@pytest.fixture
def harness(git_repo, monkeypatch):
    made: list[Harness] = []

    def make(scenario: dict, **budget) -> Harness:
        h = Harness(git_repo, {"steps": scenario}, monkeypatch, **budget)
        made.append(h)
        return h

    yield make
    for h in made:
        h.close()


def ask(text: str = "Write the research notes.", **kw) -> model.Request:
    return model.Request(messages=[{"role": "user", "content": text}], system=SYSTEM, **kw)

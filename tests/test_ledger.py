"""The cost ledger on both back ends (SQLite, and PostgreSQL started by pg_harness):
schema, migrations, append-only calls, money and sharing. Tests that hold for both take the
`backend` fixture; the file's own failure modes (WAL, a corrupt file) are SQLite's alone."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest

from devloop.errors import LedgerError, UsageError
from devloop.ledger import (
    CallRecord,
    Ledger,
    LedgerMissing,
    Origin,
    ledger_path,
    pico_to_usd,
    schema_version,
    usd_to_pico,
)
from devloop.ledger import schema as ledger_mod

FULL_USAGE = {
    "input_tokens": 1200,
    "cache_creation_input_tokens": 700,
    "cache_creation": {"ephemeral_5m_input_tokens": 500, "ephemeral_1h_input_tokens": 200},
    "cache_read_input_tokens": 4000,
    "output_tokens": 350,
    "output_tokens_details": {"thinking_tokens": 120},
    "server_tool_use": {"web_search_requests": 2, "web_fetch_requests": 1},
    "service_tier": "standard",
    "inference_geo": "us",
    "speed": "fast",
}


def call(feature: str = "login", **overrides) -> CallRecord:
    values = dict(
        feature=feature,
        step_key="plan",
        tier="frontier",
        requested_model="claude-opus-5-5",
        served_model="claude-opus-5-5",
        outcome="ok",
        usage={"input_tokens": 10, "output_tokens": 5},
        cost_usd=Decimal("0.01"),
        baseline_usd=Decimal("0.01"),
        baseline_model="claude-opus-5-5",
    )
    values.update(overrides)
    return CallRecord(**values)


def raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


class Backend:
    """One place a ledger can live, and a second connection to it that bypasses devloop."""

    def __init__(self, kind: str, location: Path | str) -> None:
        self.kind, self.location = kind, location

    def open(self, **kwargs) -> Ledger:
        return Ledger(self.location, **kwargs)

    def raw(self):
        if self.kind == "sqlite":
            return raw(self.location)
        import psycopg

        from devloop.ledger.postgres import PgConnection

        return PgConnection(psycopg.connect(self.location, autocommit=True))

    @property
    def refused(self) -> type[Exception]:
        """What the database raises when a trigger refuses a change."""
        if self.kind == "sqlite":
            return sqlite3.IntegrityError
        import psycopg

        return psycopg.errors.IntegrityConstraintViolation

    def version(self) -> int:
        if self.kind == "sqlite":
            return raw(self.location).execute("PRAGMA user_version").fetchone()[0]
        return self.raw().execute("SELECT version FROM devloop_schema").fetchone()[0]

    def set_version(self, version: int) -> None:
        if self.kind == "sqlite":
            raw(self.location).execute(f"PRAGMA user_version = {version}")
        else:
            self.raw().execute("UPDATE devloop_schema SET version = ?", (version,))

    def tables(self) -> set[str]:
        if self.kind == "sqlite":
            rows = raw(self.location).execute("SELECT name FROM sqlite_master WHERE type='table'")
        else:
            rows = self.raw().execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
            )
        return {r[0] for r in rows.fetchall()}


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request, tmp_path: Path) -> Backend:
    if request.param == "sqlite":
        return Backend("sqlite", tmp_path / ".devloop" / "ledger.db")
    return Backend("postgresql", request.getfixturevalue("pg_url"))


@pytest.fixture
def ledger(backend: Backend):
    with backend.open() as opened:
        yield opened


# ------------------------------------------------------------------ money


def test_usd_pico_round_trip_is_exact():
    assert usd_to_pico(Decimal("0.000003")) == 3_000_000
    assert usd_to_pico(Decimal("12.345678901234")) == 12_345_678_901_234
    assert usd_to_pico(7) == 7 * 10**12
    assert pico_to_usd(12_345_678_901_234) == Decimal("12.345678901234")
    assert f"{pico_to_usd(15):f}" == "0.000000000015"
    assert pico_to_usd(usd_to_pico(Decimal("-1.5"))) == Decimal("-1.5")


def test_sub_pico_rounds_half_even_and_floats_are_refused():
    assert usd_to_pico(Decimal("0.0000000000005")) == 0
    assert usd_to_pico(Decimal("0.0000000000015")) == 2
    with pytest.raises(TypeError):
        usd_to_pico(0.1)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        usd_to_pico(Decimal("NaN"))


def test_sql_sum_of_costs_is_exact(ledger):
    for _ in range(10):
        ledger.record_call(call(cost_usd=Decimal("0.1")))
    assert ledger.spent_usd("login") == Decimal("1")
    assert str(ledger.spent_usd("login")) == "1.000000000000"


# ----------------------------------------------------------- open, schema


def test_new_ledger_is_wal_with_busy_timeout(tmp_path):
    with Ledger.open(tmp_path) as opened:
        assert opened.path == tmp_path / ".devloop" / "ledger.db"
        assert opened.connection.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000
    # WAL is a property of the file: a fresh connection sees it.
    conn = raw(ledger_path(tmp_path))
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == schema_version()


def test_migrates_an_empty_file(tmp_path):
    path = tmp_path / "ledger.db"
    path.write_bytes(b"")
    with Ledger(path) as opened:
        opened.record_call(call())
    conn = raw(path)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"features", "step_runs", "calls"} <= tables
    assert conn.execute("PRAGMA user_version").fetchone()[0] == schema_version() >= 1


def test_a_new_postgresql_ledger_has_the_same_tables_and_version(pg_url):
    target = Backend("postgresql", pg_url)
    with target.open() as opened:
        opened.record_call(call())
        assert opened.path == pg_url  # no password in it to hide
    assert {"features", "step_runs", "calls", "reservations", "reuses"} <= target.tables()
    assert target.version() == schema_version() >= 4
    # 64-bit money: one call of $5,000 is 5e15 pico-USD, far past a 32-bit integer.
    with target.open() as opened:
        opened.record_call(call(cost_usd=Decimal("5000")))
        assert opened.spent_usd("login") == Decimal("5000.01")


def test_migration_path_applies_later_migrations_in_order(backend, monkeypatch):
    with backend.open() as opened:
        opened.record_call(call())
    later = [*ledger_mod.MIGRATIONS, ("ALTER TABLE features ADD COLUMN note TEXT DEFAULT 'x'",)]
    monkeypatch.setattr(ledger_mod, "MIGRATIONS", later)
    with backend.open() as opened:
        assert backend.version() == len(later)
        assert opened.connection.execute("SELECT note FROM features").fetchall() == [("x",)]
        assert opened.spend("login").calls == 1  # data kept


def test_failed_migration_rolls_back_whole(backend, monkeypatch):
    backend.open().close()
    broken = [
        *ledger_mod.MIGRATIONS,
        ("CREATE TABLE extra (x INTEGER)", "THIS IS NOT SQL"),
    ]
    monkeypatch.setattr(ledger_mod, "MIGRATIONS", broken)
    with pytest.raises(LedgerError):
        backend.open()
    assert backend.version() == len(ledger_mod.MIGRATIONS) - 1
    assert "extra" not in backend.tables()


def test_two_processes_opening_a_new_ledger_migrate_it_once(backend):
    script = "import sys; from devloop.ledger import Ledger; Ledger(sys.argv[1]).close()"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(backend.location)], stderr=subprocess.PIPE
        )
        for _ in range(4)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    assert backend.version() == schema_version()


def test_newer_schema_is_refused_with_a_clear_error(backend):
    backend.open().close()
    backend.set_version(schema_version() + 5)
    with pytest.raises(LedgerError) as info:
        backend.open()
    message = info.value.message
    assert str(backend.location) in message
    assert "newer" in message and "Upgrade devloop" in message


def test_corrupt_file_is_a_clear_error_naming_the_path(tmp_path):
    path = tmp_path / "ledger.db"
    path.write_bytes(b"this is not a database, just some text that happens to be here\n" * 20)
    with pytest.raises(LedgerError) as info:
        Ledger(path)
    assert str(path) in info.value.message
    assert "not a readable devloop ledger" in info.value.message
    assert "Move it aside" in info.value.message


def test_foreign_sqlite_database_is_refused(tmp_path):
    path = tmp_path / "ledger.db"
    raw(path).execute("CREATE TABLE features (name TEXT)")
    with pytest.raises(LedgerError) as info:
        Ledger(path)
    assert "not a devloop ledger" in info.value.message
    assert str(path) in info.value.message


def test_foreign_postgresql_tables_are_refused(pg_url):
    Backend("postgresql", pg_url).raw().execute("CREATE TABLE features (name TEXT)")
    with pytest.raises(LedgerError) as info:
        Ledger(pg_url)
    assert "not a devloop ledger" in info.value.message
    assert pg_url in info.value.message


def test_open_without_create_does_not_make_a_ledger(tmp_path):
    with pytest.raises(LedgerMissing) as info:
        Ledger.open(tmp_path, create=False)
    assert "devloop feature" in info.value.message
    assert not (tmp_path / ".devloop").exists()


def test_open_without_create_makes_no_tables_in_an_empty_database(pg_url):
    with pytest.raises(LedgerMissing) as info:
        Ledger(pg_url, create=False)
    assert "devloop feature" in info.value.message
    assert Backend("postgresql", pg_url).tables() == set()


def test_a_password_never_shows_in_messages(pg_cluster):
    url = pg_cluster.url().replace("devloop@", "devloop:hunter2@", 1)
    with Ledger(url) as opened:
        assert "hunter2" not in str(opened.path)
        assert "devloop:***@" in str(opened.path)


def test_an_unreachable_server_is_exit_4_and_names_the_ledger(tmp_path):
    from devloop.errors import EXIT_API, LedgerUnreachable

    url = f"postgresql://devloop@/devloop?host={tmp_path}&port=5999&connect_timeout=2"
    with pytest.raises(LedgerUnreachable) as info:
        Ledger(url)
    assert info.value.exit_code == EXIT_API == 4
    assert str(tmp_path) in info.value.message
    assert "cannot be reached" in info.value.message


# ------------------------------------------------------------------ calls


def test_record_call_stores_every_raw_usage_field(ledger):
    first = ledger.record_call(call(outcome="truncated"))
    call_id = ledger.record_call(
        call(
            step_key="implement",
            tier="mid",
            requested_model="claude-sonnet-5-5",
            served_model="claude-sonnet-5-5-20260101",
            usage=FULL_USAGE,
            cost_usd=Decimal("0.0123"),
            baseline_usd=Decimal("0.0615"),
            price_version="2026-01-01",
            latency_ms=1234,
            stop_reason="end_turn",
            request_id="req_1",
            attempt=2,
            retries=1,
            escalated_from=first,
        )
    )
    row = ledger.connection.execute(
        "SELECT feature, step_key, tier, requested_model, served_model, input_tokens,"
        " cache_write_5m_tokens, cache_write_1h_tokens, cache_creation_input_tokens,"
        " cache_read_input_tokens, output_tokens, thinking_tokens, service_tier, inference_geo,"
        " speed, web_search_requests, cost_pico, baseline_pico, baseline_model, price_version,"
        " latency_ms, stop_reason, request_id, outcome, retries, attempt, escalated_from,"
        " usage_json, created_at FROM calls WHERE id = ?",
        (call_id,),
    ).fetchone()
    assert row[:27] == (
        "login", "implement", "mid", "claude-sonnet-5-5", "claude-sonnet-5-5-20260101",
        1200, 500, 200, 700, 4000, 350, 120, "standard", "us", "fast", 2,
        12_300_000_000, 61_500_000_000, "claude-opus-5-5", "2026-01-01",
        1234, "end_turn", "req_1", "ok", 1, 2, first,
    )  # fmt: skip
    import json

    assert json.loads(row[27]) == FULL_USAGE
    assert row[28].endswith("Z")


def test_missing_breakdowns_are_unknown_not_zero(ledger):
    call_id = ledger.record_call(call(usage={"input_tokens": 3, "output_tokens": 4}))
    row = ledger.connection.execute(
        "SELECT cache_write_5m_tokens, thinking_tokens, cache_creation_input_tokens"
        " FROM calls WHERE id = ?",
        (call_id,),
    ).fetchone()
    assert row == (None, None, 0)


def test_calls_are_append_only(backend, ledger):
    call_id = ledger.record_call(call())
    conn = backend.raw()
    with pytest.raises(backend.refused, match="append-only: a call row is never updated"):
        conn.execute("UPDATE calls SET cost_pico = 0 WHERE id = ?", (call_id,))
    with pytest.raises(backend.refused, match="append-only: a call row is never deleted"):
        conn.execute("DELETE FROM calls")
    if backend.kind == "postgresql":  # TRUNCATE skips row triggers; a statement one stops it
        with pytest.raises(backend.refused, match="append-only"):
            conn.execute("TRUNCATE calls CASCADE")
    assert conn.execute("SELECT COUNT(*), SUM(cost_pico) FROM calls").fetchone() == (
        1,
        10_000_000_000,
    )


def test_unpriced_call_is_null_and_counted_never_zero(ledger):
    ledger.record_call(call(cost_usd=Decimal("0.5")))
    call_id = ledger.record_call(call(served_model="mystery", cost_usd=None))
    stored = ledger.connection.execute(
        "SELECT cost_pico FROM calls WHERE id = ?", (call_id,)
    ).fetchone()
    assert stored == (None,)
    spend = ledger.spend("login")
    assert (spend.cost_usd, spend.calls, spend.unpriced_calls) == (Decimal("0.5"), 2, 1)


def test_spent_usd_per_step(ledger):
    ledger.record_call(call(step_key="plan", cost_usd=Decimal("0.25")))
    ledger.record_call(call(step_key="review", cost_usd=Decimal("0.05")))
    ledger.record_call(call(feature="other", cost_usd=Decimal("9")))
    assert ledger.spent_usd("login") == Decimal("0.30")
    assert ledger.spent_usd("login", "review") == Decimal("0.05")
    assert ledger.spent_usd("nobody") == Decimal("0")


def test_record_call_rejects_bad_input(ledger):
    with pytest.raises(ValueError, match="outcome"):
        ledger.record_call(call(outcome=""))
    with pytest.raises(ValueError, match="negative"):
        ledger.record_call(call(cost_usd=Decimal("-1")))
    with pytest.raises(LedgerError, match="input_tokens"):
        ledger.record_call(call(usage={"input_tokens": -3}))
    assert ledger.spend("login").calls == 0


def test_outcome_detail_is_kept_as_given(ledger):
    call_id = ledger.record_call(call(outcome="api_error:overloaded_error", cost_usd=Decimal(0)))
    stored = ledger.connection.execute("SELECT outcome FROM calls WHERE id = ?", (call_id,))
    assert stored.fetchone() == ("api_error:overloaded_error",)


def test_record_call_creates_the_feature_row(ledger):
    ledger.record_call(call(feature="fresh"))
    assert ledger.feature("fresh") is not None


# ------------------------------------------------------ features and runs


def test_ensure_feature_creates_then_updates_given_fields(ledger):
    made = ledger.ensure_feature("login", title="Login", branch="devloop/login", tag="A")
    assert (made.title, made.branch, made.status, made.tag) == (
        "Login",
        "devloop/login",
        "active",
        "A",
    )
    again = ledger.ensure_feature("login", status="done", budget_usd=Decimal("2.50"))
    assert (again.title, again.status, again.budget_usd) == ("Login", "done", Decimal("2.5"))
    assert [f.slug for f in ledger.features()] == ["login"]


def test_step_runs_and_latest_feature(ledger):
    ledger.ensure_feature("older")
    ledger.ensure_feature("newer")
    run = ledger.start_step_run(
        "older", 2, "plan", worker="llm", tier="frontier", model="m", route={"why": "rule"}
    )
    assert ledger.latest_feature().slug == "older"  # activity, not creation, decides
    ledger.finish_step_run(run, "ok", {"verdict": "pass"})
    row = ledger.connection.execute(
        "SELECT status, ended_at IS NOT NULL, outcome_json, route_json FROM step_runs"
    ).fetchone()
    assert row == ("ok", True, '{"verdict": "pass"}', '{"why": "rule"}')
    with pytest.raises(LedgerError, match="already finished"):
        ledger.finish_step_run(run, "failed")
    with pytest.raises(LedgerError, match="no step run"):
        ledger.finish_step_run(9999, "ok")


def test_automated_step_is_a_zero_cost_run_without_calls(ledger):
    run = ledger.record_automated_step("login", 7, "preflight", "ok", {"checks": 4})
    groups = ledger.step_run_groups("login")
    assert [(g.step_key, g.tier, g.runs, g.model) for g in groups] == [
        ("preflight", "script", 1, None)
    ]
    assert ledger.spend("login").calls == 0
    assert run > 0


# ---------------------------------------------------------------- sharing


def write_at_once(backend: Backend, record: str, slugs: str) -> None:
    """One process per slug, all at once, each running `record` (its body: `ledger` open on
    the backend, `slug`, CallRecord and Decimal in scope)."""
    script = (
        "import sys\nfrom decimal import Decimal\nfrom devloop.ledger import CallRecord, Ledger\n"
        f"slug = sys.argv[1]\nwith Ledger({str(backend.location)!r}) as ledger:\n"
        + textwrap.indent(textwrap.dedent(record).strip("\n"), "    ")
        + "\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script, slug], stderr=subprocess.PIPE, text=True)
        for slug in slugs
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err


def test_two_processes_write_the_same_ledger(backend):
    record = """
        for i in range(40):
            ledger.record_call(CallRecord(
                feature=slug, step_key="plan", tier="mid",
                requested_model="m", outcome="ok", cost_usd=Decimal("0.001"),
            ))
    """
    write_at_once(backend, record, "abc")
    with backend.open() as opened:
        assert [opened.spend(s).calls for s in "abc"] == [40, 40, 40]
        assert opened.spent_usd("a") == Decimal("0.040")


# ------------------------------------------------------------ who and where


def opened_in(backend: Backend, root: Path, monkeypatch, config: str, branch: str = "") -> Ledger:
    """Ledger.open as devloop opens it in the repository at `root` (its devloop.toml), on
    the backend: the file under `root`, or the shared URL from DEVLOOP_LEDGER_URL."""
    root.mkdir(exist_ok=True)
    (root / "devloop.toml").write_text(config)
    if backend.kind == "postgresql":
        monkeypatch.setenv("DEVLOOP_LEDGER_URL", backend.location)
    else:
        assert backend.location == ledger_path(root)
    return Ledger.open(root, branch=branch)


def test_rows_record_who_and_where(backend, tmp_path, monkeypatch):
    monkeypatch.setenv("DEVLOOP_USER", "ada")
    config = '[ledger]\nrepository = "acme/shop"\n[budget]\nteam = "platform"\n'
    with opened_in(backend, tmp_path, monkeypatch, config, branch="devloop/login") as opened:
        run = opened.start_step_run("login", 2, "plan", worker="llm", tier="frontier")
        opened.record_call(call(step_run_id=run))
        held = opened.reserve("login", "plan", "claude-opus-5-5", Decimal("0.5"))
        rows = [
            opened.connection.execute(
                f"SELECT user_name, host, repository, branch, team FROM {table}"
            ).fetchall()
            for table in ("calls", "step_runs", "reservations")
        ]
        assert held.id is not None
        assert opened.feature("login").repository == "acme/shop"
    import socket

    expected = ("ada", socket.gethostname(), "acme/shop", "devloop/login", "platform")
    assert rows == [[expected]] * 3


def test_the_repository_defaults_to_the_directory_name(backend, tmp_path, monkeypatch):
    with opened_in(backend, tmp_path, monkeypatch, "") as opened:
        opened.record_call(call())
        (row,) = opened.connection.execute("SELECT repository, team, branch FROM calls")
    assert row == (tmp_path.name, None, None)


def test_a_shared_slug_belongs_to_one_repository(pg_url, tmp_path, monkeypatch):
    backend = Backend("postgresql", pg_url)
    with opened_in(backend, tmp_path / "shop", monkeypatch, "") as shop:
        shop.ensure_feature("login", title="Login")
    with opened_in(backend, tmp_path / "blog", monkeypatch, "") as blog:
        with pytest.raises(UsageError) as info:
            blog.ensure_feature("login", title="Login")
        assert "belongs to repository 'shop'" in info.value.message
        assert info.value.exit_code == 2
        blog.ensure_feature("blog-login")  # another slug is fine
    with opened_in(backend, tmp_path / "shop", monkeypatch, "") as shop:
        assert shop.ensure_feature("login", status="done").status == "done"  # its own


# --------------------------------------------------------- team ceilings


def test_team_ceilings_count_every_feature_of_the_team(backend, tmp_path, monkeypatch):
    from datetime import UTC, datetime, timedelta

    config = '[budget]\nteam = "platform"\n'
    with opened_in(backend, tmp_path, monkeypatch, config) as opened:
        now = datetime.now(UTC)
        # Last month's call counts for neither ceiling; yesterday's only for the month's
        # (unless yesterday was last month).
        opened.record_call(call("old", cost_usd=Decimal("50"), created_at=now - timedelta(40)))
        yesterday = now - timedelta(days=1)
        opened.record_call(call("a", cost_usd=Decimal("3"), created_at=yesterday))
        opened.record_call(call("b", cost_usd=Decimal("2")))
        same_month = yesterday.month == now.month
        ceilings = {"team_day": Decimal("5"), "team_month": Decimal("10")}
        ok = opened.reserve("c", "plan", "m", Decimal("2.5"), ceilings=ceilings)
        assert ok.refused is None  # today: 2 + 2.5 <= 5
        day = opened.reserve("d", "plan", "m", Decimal("1"), ceilings=ceilings)
        assert day.refused is not None and day.refused.scope == "team_day"
        assert day.refused.held.pico == usd_to_pico(Decimal("4.5"))  # 2 spent + 2.5 held
        month = opened.reserve("e", "plan", "m", Decimal("0.4"), ceilings={"team_month": 5})
        if same_month:  # 3 + 2 + 2.5 > 5
            assert month.refused is not None and month.refused.scope == "team_month"
        else:
            assert month.refused is None


def test_another_team_and_no_team_count_for_nobody_elses_ceiling(backend, tmp_path, monkeypatch):
    with opened_in(backend, tmp_path, monkeypatch, '[budget]\nteam = "web"\n') as web:
        web.record_call(call("a", cost_usd=Decimal("9")))
    with opened_in(backend, tmp_path, monkeypatch, "") as nobody:
        nobody.record_call(call("b", cost_usd=Decimal("9")))
    with opened_in(backend, tmp_path, monkeypatch, '[budget]\nteam = "platform"\n') as mine:
        held = mine.reserve("c", "plan", "m", Decimal("1"), ceilings={"team_day": Decimal("1")})
        assert held.refused is None


def test_an_unpriced_team_call_stops_the_team_until_settled(backend, tmp_path, monkeypatch):
    with opened_in(backend, tmp_path, monkeypatch, '[budget]\nteam = "platform"\n') as opened:
        unpriced = opened.record_call(call("a", served_model="mystery", cost_usd=None))
        ceilings = {"team_day": Decimal("100")}
        refused = opened.reserve("b", "plan", "m", Decimal("1"), ceilings=ceilings).refused
        assert refused is not None and refused.unpriced and refused.scope == "team_day"
        opened.settle_unpriced_by_hand(unpriced, Decimal("7"))
        held = opened.reserve("b", "plan", "m", Decimal("1"), ceilings=ceilings)
        assert held.refused is None
        assert opened.reserve("b", "plan", "m", Decimal("92.5"), ceilings=ceilings).refused


# ------------------------------------------------------------ metrics totals


def totals_from_calls(backend: Backend) -> dict[tuple, list[int]]:
    """The metrics groups computed here, from the raw call rows, independently of the
    trigger-kept totals: (step, tier, model, outcome, repository, team) -> sums."""
    rows = backend.raw().execute(
        "SELECT step_key, tier, COALESCE(served_model, requested_model), outcome,"
        " repository, team, input_tokens, cache_creation_input_tokens,"
        " cache_read_input_tokens, output_tokens, cost_pico, baseline_pico, escalated_from"
        " FROM calls"
    )
    out: dict[tuple, list[int]] = {}
    for step, tier, model, outcome, repo, team, i, w, r, o, cost, base, esc in rows.fetchall():
        sums = out.setdefault((step, tier, model, outcome, repo or "", team or ""), [0] * 8)
        priced = cost is not None
        for at, value in enumerate(
            (1, i, w, r, o, cost or 0, (base or 0) if priced else 0, int(esc is not None))
        ):
            sums[at] += value
    return out


def totals_from_ledger(opened: Ledger) -> dict[tuple, list[int]]:
    return {
        (g.step_key, g.tier, g.model, g.outcome, g.repository, g.team): [
            g.calls,
            g.input_tokens,
            g.cache_write_tokens,
            g.cache_read_tokens,
            g.output_tokens,
            g.cost_pico,
            g.baseline_pico,
            g.escalated,
        ]  # fmt: skip
        for g in opened.outcome_groups()
    }


def record_varied_calls(opened: Ledger) -> None:
    """Priced and unpriced, served by another model or by none, failed, escalated."""
    first = opened.record_call(call(usage=FULL_USAGE))
    opened.record_call(call(step_key="implement", tier="mid", cost_usd=None, baseline_usd=None))
    opened.record_call(call(served_model=None, outcome="api_error:overloaded_error"))
    opened.record_call(call(served_model="claude-sonnet-5-5", cost_usd=Decimal("0.002")))
    opened.record_call(call(escalated_from=first, baseline_usd=None))
    opened.record_call(call(feature="other", usage=FULL_USAGE, cost_usd=Decimal("0.5")))


def test_metrics_totals_are_kept_exact_by_every_insert(backend, tmp_path):
    with backend.open(origin=Origin("ann", "h1", "shop", "main", "core")) as opened:
        record_varied_calls(opened)
    with backend.open(origin=Origin()) as opened:  # no repository, no team
        record_varied_calls(opened)
    # Writers in other processes, at the same time.
    record = """
        for i in range(30):
            ledger.record_call(CallRecord(
                feature=slug, step_key="review", tier="mid", requested_model="m",
                outcome="ok" if i % 3 else "empty", cost_usd=Decimal("0.001"),
                baseline_usd=Decimal("0.003"), usage={"input_tokens": i},
            ))
    """
    write_at_once(backend, record, "abc")
    with backend.open() as opened:
        kept = totals_from_ledger(opened)
    assert kept == totals_from_calls(backend)
    assert kept[("review", "mid", "m", "ok", "", "")][0] == 60  # 3 writers x 20
    assert kept[("plan", "frontier", "claude-opus-5-5", "ok", "shop", "core")][7] == 1


def test_metrics_totals_count_the_calls_recorded_before_the_upgrade(backend, monkeypatch):
    before = ledger_mod.MIGRATIONS[:4]
    with monkeypatch.context() as patched:
        patched.setattr(ledger_mod, "MIGRATIONS", before)
        with backend.open() as opened:
            record_varied_calls(opened)
        assert "call_totals" not in backend.tables()
    with backend.open() as opened:  # migrates to the current version: backfills, then keeps
        opened.record_call(call(step_key="audit"))
        kept = totals_from_ledger(opened)
    assert kept == totals_from_calls(backend) and len(kept) > 4

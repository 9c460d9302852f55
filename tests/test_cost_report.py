"""`devloop cost`: per-step, per-model, per-tier and all-feature reports in every format.

The ledger below is small enough to total by hand; every expected figure in these tests
was computed from the table in `cost_repo`'s docstring, not by the code under test.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from devloop.ledger import CallRecord, Ledger
from devloop.reports import cost_report

OPUS = "claude-opus-5-5"
SONNET = "claude-sonnet-5-5"
MYSTERY = "mystery-model-1"
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

ROW_KEYS = {
    "key", "step_number", "feature", "tiers", "models", "runs", "calls", "priced_calls",
    "unpriced_calls", "unpriced_models", "baseline_unpriced_calls", "tokens", "cost_usd",
    "baseline_usd", "same_usage_baseline_usd", "saved_usd", "saved_pct", "cache_read_share",
}  # fmt: skip
TOKEN_KEYS = {"input", "cache_write", "cache_write_5m", "cache_write_1h", "cache_read", "output"}
TOP_KEYS = {
    "schema", "scope", "group_by", "ledger", "feature", "currency", "baseline", "rows",
    "total", "notes", "unsettled_calls", "unsettled_worst_usd", "cache_groups", "since",
    "until",
}  # fmt: skip
NOTE = "frontier baseline = what these calls would have cost in one all-frontier run"
# A mid call's same-usage baseline is this much above its counterfactual one (the cache a
# routed run splits across two models, which the same-usage figure ignores).
SAME_USAGE_EXTRA = Decimal("0.005")


def usd(text: str) -> str:
    """The JSON spelling of an amount: 12 fixed decimals."""
    return f"{Decimal(text):.12f}"


# (feature, step number, step key, routed tier, [(tier, served model, cost, baseline,
#   (input, cache write, cache read, output))]); an empty call list is a script step.
LEDGER_ROWS = [
    ("search", 2, "plan", "frontier", [("frontier", OPUS, "0.100", "0.100", (100, 0, 0, 10))]),
    ("login", 1, "research", "frontier", [
        ("frontier", OPUS, "0.030", "0.030", (1000, 200, 0, 100)),
        ("frontier", OPUS, "0.020", "0.020", (500, 0, 300, 50)),
    ]),
    ("login", 7, "preflight", "script", []),
    ("login", 8, "implement", "mid", [
        ("mid", SONNET, "0.006", "0.030", (2000, 400, 0, 300)),
        ("mid", SONNET, "0.004", "0.020", (1000, 0, 800, 200)),
        ("frontier", OPUS, "0.010", "0.010", (500, 0, 0, 100)),  # escalated
    ]),
    ("login", 9, "review", "mid", [
        ("mid", MYSTERY, None, "0.015", (700, 0, 0, 70)),  # served model has no price
        ("mid", SONNET, "0.002", "0.010", (300, 0, 0, 30)),
    ]),
    ("login", 15, "smoke", "script", []),
]  # fmt: skip


def _usage(tokens: tuple[int, int, int, int]) -> dict:
    inp, write, read, out = tokens
    return {
        "input_tokens": inp,
        "cache_creation_input_tokens": write,
        "cache_creation": {"ephemeral_5m_input_tokens": write, "ephemeral_1h_input_tokens": 0},
        "cache_read_input_tokens": read,
        "output_tokens": out,
    }


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_backend(request, monkeypatch) -> str:
    """Every report test runs on both back ends: the file under .devloop/, and a shared
    PostgreSQL ledger (pg_harness) named by DEVLOOP_LEDGER_URL."""
    if request.param == "postgresql":
        monkeypatch.setenv("DEVLOOP_LEDGER_URL", request.getfixturevalue("pg_url"))
    return request.param


@pytest.fixture
def cost_repo(git_repo: Path, ledger_backend: str) -> Path:
    """LEDGER_ROWS in a real ledger; `search` is older, `login` the most recently active.

    Hand totals for login: cost 0.072 (the mystery call is unpriced), baseline 0.120
    (priced calls only), saved 0.048 = 40.00 %. With search: 0.172 / 0.220 / 21.82 %.
    """
    with Ledger.open(git_repo) as ledger:
        ledger.ensure_feature("search", title="Search")
        ledger.ensure_feature("login", title="Login", branch="devloop/login")
        for day, (slug, number, key, routed, calls) in enumerate(LEDGER_ROWS):
            when = T0 + timedelta(days=day)
            if not calls:
                ledger.record_automated_step(slug, number, key, "ok", {"checks": 4})
                continue
            model = OPUS if routed == "frontier" else SONNET
            run = ledger.start_step_run(
                slug, number, key, worker="llm", tier=routed, model=model, started_at=when
            )
            previous = None
            for tier, served, cost, baseline, tokens in calls:
                previous = ledger.record_call(
                    CallRecord(
                        feature=slug,
                        step_key=key,
                        tier=tier,
                        requested_model=model,
                        served_model=served,
                        outcome="ok",
                        step_run_id=run,
                        usage=_usage(tokens),
                        cost_usd=None if cost is None else Decimal(cost),
                        baseline_usd=Decimal(baseline),
                        same_usage_baseline_usd=Decimal(baseline)
                        + (SAME_USAGE_EXTRA if served != OPUS else 0),
                        baseline_model=OPUS,
                        escalated_from=previous if tier != routed else None,
                        created_at=when,
                    )
                )
            ledger.finish_step_run(run, "ok", ended_at=when)
    return git_repo


def cost_json(run_cli, repo: Path, *args: str) -> dict:
    result = run_cli(repo, "cost", "--format", "json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def by_key(doc: dict) -> dict[str, dict]:
    return {row["key"]: row for row in doc["rows"]}


# --------------------------------------------------------------- per step


def test_default_report_is_the_most_recent_feature_by_step(cost_repo, run_cli):
    doc = cost_json(run_cli, cost_repo)
    assert doc["schema"] == "devloop.cost/1"
    assert (doc["scope"], doc["group_by"]) == ("feature", "step")
    assert doc["feature"]["slug"] == "login"
    assert [(r["step_number"], r["key"]) for r in doc["rows"]] == [
        (1, "research"),
        (7, "preflight"),
        (8, "implement"),
        (9, "review"),
        (15, "smoke"),
    ]


def test_per_step_figures_match_hand_computed_totals(cost_repo, run_cli):
    doc = cost_json(run_cli, cost_repo, "login")
    rows = by_key(doc)
    research = rows["research"]
    assert (research["calls"], research["cost_usd"], research["baseline_usd"]) == (
        2,
        usd("0.050"),
        usd("0.050"),
    )
    assert (research["saved_usd"], research["saved_pct"]) == (usd("0"), 0.0)
    assert research["tokens"] == {
        "input": 1500,
        "cache_write": 200,
        "cache_write_5m": 200,
        "cache_write_1h": 0,
        "cache_read": 300,
        "output": 150,
    }
    implement = rows["implement"]
    assert implement["tiers"] == ["frontier", "mid"]  # escalated once
    assert implement["models"] == [OPUS, SONNET]
    assert (implement["calls"], implement["runs"]) == (3, 1)
    assert implement["cost_usd"] == usd("0.020")
    assert implement["baseline_usd"] == usd("0.060")
    assert implement["saved_usd"] == usd("0.040")
    assert implement["saved_pct"] == 66.67
    assert implement["tokens"]["input"] == 3500
    assert implement["tokens"]["cache_read"] == 800

    total = doc["total"]
    assert total["key"] == "total"
    assert (total["calls"], total["unpriced_calls"], total["runs"]) == (7, 1, 5)
    assert total["cost_usd"] == usd("0.072")
    assert total["baseline_usd"] == usd("0.120")
    assert total["saved_usd"] == usd("0.048")
    assert total["saved_pct"] == 40.0
    assert total["tokens"]["input"] == 1500 + 3500 + 1000
    assert total["tokens"]["output"] == 150 + 600 + 100


def test_automated_steps_appear_at_zero_cost(cost_repo, run_cli):
    rows = by_key(cost_json(run_cli, cost_repo))
    for key in ("preflight", "smoke"):
        row = rows[key]
        assert row["tiers"] == ["script"]
        assert (row["runs"], row["calls"], row["models"]) == (1, 0, [])
        assert row["cost_usd"] == row["baseline_usd"] == usd("0")
        assert row["saved_pct"] is None  # nothing to save on $0


def test_unpriced_calls_are_counted_not_priced_at_zero(cost_repo, run_cli):
    doc = cost_json(run_cli, cost_repo)
    review = by_key(doc)["review"]
    assert (review["calls"], review["priced_calls"], review["unpriced_calls"]) == (2, 1, 1)
    assert review["unpriced_models"] == [MYSTERY]
    # Cost and baseline cover the priced call only, so saved compares like with like.
    assert (review["cost_usd"], review["baseline_usd"], review["saved_usd"]) == (
        usd("0.002"),
        usd("0.010"),
        usd("0.008"),
    )
    assert any("exclude 1 call" in note and MYSTERY in note for note in doc["notes"])

    result = run_cli(cost_repo, "cost")
    review_line = next(line for line in result.output.splitlines() if " review " in line)
    assert "$0.0020 + 1 unpriced" in review_line
    assert "Totals exclude 1 call that could not be priced" in result.output


def test_fully_unpriced_group_is_null_not_zero(cost_repo, run_cli):
    doc = cost_json(run_cli, cost_repo, "--by", "model")
    mystery = by_key(doc)[MYSTERY]
    assert mystery["calls"] == mystery["unpriced_calls"] == 1
    assert mystery["cost_usd"] is None
    assert mystery["baseline_usd"] is None and mystery["saved_usd"] is None
    table = run_cli(cost_repo, "cost", "--by", "model").output
    mystery_line = next(line for line in table.splitlines() if line.startswith(MYSTERY))
    assert "unpriced (1)" in mystery_line
    assert "$0.0000" not in mystery_line


# ------------------------------------------------------- by model and tier


def test_by_model(cost_repo, run_cli):
    doc = cost_json(run_cli, cost_repo, "login", "--by", "model")
    assert doc["group_by"] == "model"
    rows = by_key(doc)
    assert list(rows) == [OPUS, SONNET, MYSTERY]  # by model id
    assert (rows[OPUS]["calls"], rows[OPUS]["cost_usd"], rows[OPUS]["baseline_usd"]) == (
        3,
        usd("0.060"),
        usd("0.060"),
    )
    sonnet = rows[SONNET]
    assert (sonnet["calls"], sonnet["cost_usd"], sonnet["baseline_usd"]) == (
        3,
        usd("0.012"),
        usd("0.060"),
    )
    assert (sonnet["saved_usd"], sonnet["saved_pct"]) == (usd("0.048"), 80.0)
    assert doc["total"]["cost_usd"] == usd("0.072")


def test_by_tier_includes_script_tier_at_zero(cost_repo, run_cli):
    doc = cost_json(run_cli, cost_repo, "--by", "tier")
    assert [r["key"] for r in doc["rows"]] == ["frontier", "mid", "script"]
    frontier, mid, script = doc["rows"]
    assert (frontier["calls"], frontier["cost_usd"], frontier["baseline_usd"]) == (
        3,
        usd("0.060"),
        usd("0.060"),
    )
    assert (mid["calls"], mid["unpriced_calls"], mid["cost_usd"], mid["baseline_usd"]) == (
        4,
        1,
        usd("0.012"),
        usd("0.060"),
    )
    assert (script["calls"], script["runs"], script["cost_usd"]) == (0, 2, usd("0"))
    assert doc["total"]["cost_usd"] == usd("0.072")


# -------------------------------------------------------------------- all


def test_all_has_one_row_per_feature_and_a_grand_total(cost_repo, run_cli):
    doc = cost_json(run_cli, cost_repo, "--all")
    assert (doc["scope"], doc["group_by"], doc["feature"]) == ("all", "feature", None)
    assert [r["key"] for r in doc["rows"]] == ["search", "login"]  # oldest first
    search, login = doc["rows"]
    assert search["feature"]["title"] == "Search"
    assert (search["calls"], search["cost_usd"]) == (1, usd("0.100"))
    assert (login["calls"], login["cost_usd"], login["baseline_usd"]) == (
        7,
        usd("0.072"),
        usd("0.120"),
    )
    total = doc["total"]
    assert (total["calls"], total["unpriced_calls"]) == (8, 1)
    assert total["cost_usd"] == usd("0.172")
    assert total["baseline_usd"] == usd("0.220")
    assert total["saved_usd"] == usd("0.048")
    assert total["saved_pct"] == 21.82
    for money in ("cost_usd", "baseline_usd", "saved_usd"):
        assert sum(Decimal(r[money]) for r in doc["rows"]) == Decimal(total[money])
    assert sum(r["calls"] for r in doc["rows"]) == total["calls"]


def test_all_includes_a_feature_without_calls(cost_repo, run_cli):
    with Ledger.open(cost_repo) as ledger:
        ledger.ensure_feature("idle")
    rows = by_key(cost_json(run_cli, cost_repo, "--all"))
    assert (rows["idle"]["calls"], rows["idle"]["cost_usd"]) == (0, usd("0"))


def test_all_by_step_groups_across_features(cost_repo, run_cli):
    doc = cost_json(run_cli, cost_repo, "--all", "--by", "step")
    rows = by_key(doc)
    assert rows["plan"]["cost_usd"] == usd("0.100")
    assert rows["research"]["cost_usd"] == usd("0.050")
    assert doc["total"]["cost_usd"] == usd("0.172")


def test_all_table_total_line(cost_repo, run_cli):
    result = run_cli(cost_repo, "cost", "--all")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "Cost of all features"
    total = next(line for line in lines if line.startswith("total"))
    assert "$0.1720 + 1 unpriced" in total and "$0.2200" in total and "21.8%" in total


# ---------------------------------------------------------------- formats


def test_the_same_usage_baseline_stays_available(cost_repo, run_cli):
    default = cost_json(run_cli, cost_repo)["total"]
    assert default["baseline_usd"] == usd("0.120")
    # implement's two mid calls and review's priced one: three times the extra
    assert default["same_usage_baseline_usd"] == usd("0.135")
    same = cost_json(run_cli, cost_repo, "--baseline", "same-usage")
    assert same["baseline"]["kind"] == "same-usage"
    assert same["total"]["baseline_usd"] == usd("0.135")
    assert same["total"]["saved_usd"] == usd("0.063")
    table = run_cli(cost_repo, "cost", "--baseline", "same-usage").output
    assert "each call's own token usage repriced at frontier rates" in table
    shown = " ".join(run_cli(cost_repo, "cost", "--help").output.split())
    assert "--baseline [counterfactual|same-usage]" in shown
    assert "replayed, in order, through one prompt cache of the frontier model" in shown
    assert "`--baseline same-usage` shows each call's own usage at frontier rates" in shown


def test_json_has_the_documented_keys(cost_repo, run_cli):
    for args in ((), ("--all",), ("--by", "model"), ("--by", "tier")):
        doc = cost_json(run_cli, cost_repo, *args)
        assert set(doc) == TOP_KEYS
        assert doc["currency"] == "USD"
        assert doc["baseline"]["kind"] == "counterfactual"
        assert doc["baseline"]["definition"].startswith(NOTE)
        assert "output tokens as observed" in doc["baseline"]["definition"]
        assert doc["baseline"]["models"] == [OPUS]
        assert (doc["unsettled_calls"], doc["unsettled_worst_usd"]) == (0, usd("0"))
        for row in [*doc["rows"], doc["total"]]:
            assert set(row) == ROW_KEYS
            assert set(row["tokens"]) == TOKEN_KEYS
            t = row["tokens"]
            prompt = t["input"] + t["cache_write"] + t["cache_read"]
            share = row["cache_read_share"]
            assert share == (round(t["cache_read"] / prompt, 4) if prompt else None)


def test_csv_parses_with_exact_money(cost_repo, run_cli):
    result = run_cli(cost_repo, "cost", "--format", "csv")
    assert result.exit_code == 0, result.output
    records = list(csv.DictReader(io.StringIO(result.output)))
    assert [r["step"] for r in records] == ["research", "preflight", "implement", "review", "smoke"]
    implement = records[2]
    assert implement["step_number"] == "8"
    assert implement["tiers"] == "frontier;mid"
    assert (implement["calls"], implement["input_tokens"]) == ("3", "3500")
    assert (implement["cost_usd"], implement["saved_pct"]) == (usd("0.020"), "66.67")
    assert sum(Decimal(r["cost_usd"]) for r in records) == Decimal("0.072")

    by_feature = list(
        csv.DictReader(io.StringIO(run_cli(cost_repo, "cost", "--all", "--format", "csv").output))
    )
    assert [r["feature"] for r in by_feature] == ["search", "login"]  # fmt: skip


def test_markdown_has_a_table_total_and_baseline_note(cost_repo, run_cli):
    result = run_cli(cost_repo, "cost", "--format", "markdown")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("| # | step |"))
    assert lines[header + 1].startswith("|---:|---|")
    assert any(line.startswith("|  | total |") and "$0.0720" in line for line in lines)
    assert f"- {NOTE}" in result.output


def test_plain_table_when_piped(cost_repo, run_cli):
    result = run_cli(cost_repo, "cost", env={"NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    assert "\x1b[" not in result.output
    lines = result.output.splitlines()
    assert lines[0] == "Cost of feature 'login' by step"
    assert lines[1].split()[:4] == ["#", "step", "tier", "model"]
    total = next(line for line in lines if line.split()[:1] == ["total"])
    assert "$0.0720 + 1 unpriced" in total and "$0.1200" in total and "40.0%" in total
    preflight = next(line for line in lines if " preflight " in line)
    assert "script" in preflight and "$0.0000" in preflight
    assert NOTE in result.output and "output tokens as observed" in result.output


# ----------------------------------------------------------------- errors


def test_unknown_slug_exits_2_listing_known_slugs(cost_repo, run_devloop):
    proc = run_devloop(cost_repo, "cost", "logn")
    assert proc.returncode == 2
    assert "no feature 'logn'" in proc.stderr
    assert "Did you mean 'login'?" in proc.stderr
    assert "Known features: login, search." in proc.stderr
    assert "Traceback" not in proc.stderr


def test_slug_with_all_is_a_usage_error(cost_repo, run_devloop):
    proc = run_devloop(cost_repo, "cost", "login", "--all")
    assert proc.returncode == 2
    assert "not both" in proc.stderr


def test_no_ledger_exits_1_and_creates_nothing(git_repo, run_devloop):
    proc = run_devloop(git_repo, "cost", "--all")
    assert proc.returncode == 1
    assert "no cost ledger" in proc.stderr and "devloop feature" in proc.stderr
    assert not (git_repo / ".devloop").exists()


def test_empty_ledger_exits_1(git_repo, run_devloop):
    Ledger.open(git_repo).close()
    proc = run_devloop(git_repo, "cost")
    assert proc.returncode == 1
    assert "no features yet" in proc.stderr


def test_corrupt_ledger_is_a_message_not_a_traceback(git_repo, run_devloop):
    path = git_repo / ".devloop" / "ledger.db"
    path.parent.mkdir()
    path.write_bytes(b"definitely not sqlite " * 50)
    proc = run_devloop(git_repo, "cost")
    assert proc.returncode == 1
    assert str(path) in proc.stderr and "Move it aside" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_report_api_without_the_cli(cost_repo):
    rep = cost_report.build_for_repo(cost_repo, "login", by="tier")
    assert rep.total.cost_usd == Decimal("0.072")
    assert [row.key for row in rep.rows] == ["frontier", "mid", "script"]


# ------------------------------------------------------------ team reports

# (user, host, repository, day offset from T0, hour, cost): a team's calls on a shared
# ledger. By hand: ada 0.5 + 0.25 + 0.125 = 0.875, grace 2 + 0.0625 = 2.0625; shop 2.75,
# blog 0.1875; laptop 0.75, build-1 2.1875; 03-01 0.75, 03-02 2.0625, 03-03 0.125.
TEAM_CALLS = [
    ("ada", "laptop", "shop", 0, 9, "0.5"),
    ("ada", "laptop", "shop", 0, 23, "0.25"),
    ("grace", "build-1", "shop", 1, 0, "2"),
    ("grace", "build-1", "blog", 1, 12, "0.0625"),
    ("ada", "build-1", "blog", 2, 8, "0.125"),
]


@pytest.fixture
def team_repo(git_repo: Path, ledger_backend: str) -> Path:
    """TEAM_CALLS written by several people and machines into the repository's ledger (the
    file, or the shared one DEVLOOP_LEDGER_URL names), plus one older call that recorded no
    who or where."""
    from devloop.ledger import Origin, ledger_path
    from devloop.ledger.engine import configured_url

    location = configured_url("") or ledger_path(git_repo)
    for user, host, repo, day, hour, cost in [*TEAM_CALLS, (None, None, None, -1, 12, "1")]:
        origin = Origin(user or "", host or "", repo or "", "devloop/x", "platform" if user else "")
        with Ledger(location, origin=origin) as ledger:
            ledger.record_call(
                CallRecord(
                    feature=f"{repo or 'old'}-feature",
                    step_key="plan",
                    tier="frontier",
                    requested_model=OPUS,
                    served_model=OPUS,
                    outcome="ok",
                    usage=_usage((100, 0, 0, 10)),
                    cost_usd=Decimal(cost),
                    baseline_usd=Decimal(cost),
                    baseline_model=OPUS,
                    created_at=T0.replace(hour=hour) + timedelta(days=day),
                )
            )
    return git_repo


def team_costs(run_cli, repo: Path, *args: str) -> dict[str, str]:
    doc = cost_json(run_cli, repo, "--all", *args)
    costs = {row["key"]: row["cost_usd"] for row in doc["rows"]}
    assert doc["total"]["cost_usd"] == usd(str(sum(Decimal(c) for c in costs.values())))
    return costs


def test_team_report_by_user_repo_host_and_day(team_repo, run_cli):
    assert team_costs(run_cli, team_repo, "--by", "user") == {
        "ada": usd("0.875"),
        "grace": usd("2.0625"),
        "(unknown)": usd("1"),
    }
    assert team_costs(run_cli, team_repo, "--by", "repo") == {
        "shop": usd("2.75"),
        "blog": usd("0.1875"),
        "(unknown)": usd("1"),
    }
    assert team_costs(run_cli, team_repo, "--by", "host") == {
        "laptop": usd("0.75"),
        "build-1": usd("2.1875"),
        "(unknown)": usd("1"),
    }
    assert team_costs(run_cli, team_repo, "--by", "day") == {
        "2026-02-28": usd("1"),
        "2026-03-01": usd("0.75"),
        "2026-03-02": usd("2.0625"),
        "2026-03-03": usd("0.125"),
    }


def test_since_and_until_keep_the_calls_answered_in_the_window(team_repo, run_cli):
    # A date as --until includes that whole day; --since is inclusive.
    window = ("--since", "2026-03-01", "--until", "2026-03-02")
    assert team_costs(run_cli, team_repo, "--by", "user", *window) == {
        "ada": usd("0.75"),
        "grace": usd("2.0625"),
    }
    # Times, with a zone: 2026-03-02T00:00Z is 01:00 at +01:00, so this starts at grace's
    # midnight call and ends before her noon one.
    assert team_costs(
        run_cli, team_repo, "--by", "repo", "--since", "2026-03-02T01:00+01:00",
        "--until", "2026-03-02T12:00",
    ) == {"shop": usd("2")}  # fmt: skip
    # Plain --all in a window lists only the features active in it.
    assert team_costs(run_cli, team_repo, "--since", "2026-03-03") == {"blog-feature": usd("0.125")}
    doc = cost_json(run_cli, team_repo, "--all", "--by", "day", "--until", "2026-03-01")
    assert (doc["since"], doc["until"]) == (None, "2026-03-02T00:00:00.000000Z")


def test_team_report_table_names_who(team_repo, run_cli):
    result = run_cli(team_repo, "cost", "--all", "--by", "user", "--since", "2026-03-01")
    assert result.exit_code == 0, result.output
    assert "Cost of all features by user, calls answered from 2026-03-01" in result.output
    lines = {line.split()[0]: line for line in result.output.splitlines() if line.strip()}
    assert "$0.8750" in lines["ada"] and "$2.0625" in lines["grace"]  # all but the old call


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--since", "yesterday"), "--since yesterday: give a date or a time"),
        (("--since", "2026-03-02", "--until", "2026-03-01"), "the window is empty"),
        (("--by", "team"), "Invalid value for '--by'"),
    ],
)
def test_bad_windows_and_groupings_exit_2(team_repo, run_devloop, args, expected):
    proc = run_devloop(team_repo, "cost", "--all", *args)
    assert proc.returncode == 2, proc.stderr
    assert expected in proc.stderr and "Traceback" not in proc.stderr

"""`devloop ab SPEC`: routed vs all-frontier in two worktrees, against the offline server."""

from __future__ import annotations

import json
import sqlite3

from loop_harness import SLUG, build_phase, git, plan_phase

from devloop.loop import ab

AB = f".devloop/ab/{SLUG}"
ROUTED, FRONTIER = f"{SLUG}-ab-routed", f"{SLUG}-ab-frontier"


def twice(steps: dict) -> dict:
    """Each step's replies for both arms, which run one after the other."""
    return {key: replies + replies for key, replies in steps.items()}


def test_ab_runs_both_arms_to_the_end_and_compares_them(repo, sim, devloop, agent):
    s = sim(twice({**plan_phase(), **build_phase()}))
    result = devloop(repo, "ab", "specs/goodbye.md", "--json")
    assert result.code == 0, result
    data = json.loads(result.out)
    assert data["schema"] == "devloop.ab/1" and data["slug"] == SLUG
    routed, frontier = data["arms"]["routed"], data["arms"]["frontier"]
    for arm, name in ((routed, ROUTED), (frontier, FRONTIER)):
        assert arm["slug"] == name and arm["status"] == "done" and arm["imported"]
        assert arm["suite"] == "passed" and arm["calls"] == 10
        assert (arm["tasks"], arm["tasks_first_attempt"]) == (1, 1)
        assert arm["findings"]["review"]["high"] == 1 and arm["escalations"] == 0
        assert arm["diff"]["files"] == 3 and arm["diff"]["insertions"] >= 3
        assert arm["branch"] == f"devloop/{name}" and arm["wall_s"] > 0
    assert float(frontier["cost_usd"]) > float(routed["cost_usd"])
    assert frontier["cost_usd"] == frontier["baseline_usd"]  # every call on frontier
    assert s.count() == 20
    # The worktrees, each on its own branch; the repository itself is untouched.
    for arm in ("routed", "frontier"):
        assert (repo / AB / arm / "src" / "app.py").read_text().count("def goodbye") == 1
    assert git(repo, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"
    assert "goodbye" not in (repo / "src" / "app.py").read_text()
    assert git(repo, "status", "--porcelain").strip() == ""
    assert f"Devloop-Feature: {ROUTED}" in git(
        repo, "log", "-1", "--format=%B", f"devloop/{ROUTED}"
    )
    # Both arms' rows are in the repository's ledger, tagged; the arms keep their own.
    db = sqlite3.connect(repo / ".devloop" / "ledger.db")
    tags = dict(db.execute("SELECT slug, tag FROM features").fetchall())
    assert tags == {ROUTED: "ab:routed", FRONTIER: "ab:frontier"}
    tiers = dict(db.execute("SELECT feature, GROUP_CONCAT(DISTINCT tier) FROM calls GROUP BY 1"))
    assert tiers[FRONTIER] == "frontier" and set(tiers[ROUTED].split(",")) == {"frontier", "mid"}
    assert db.execute("SELECT COUNT(*) FROM calls").fetchone()[0] == 20
    own = sqlite3.connect(repo / AB / "routed" / ".devloop" / "ledger.db")
    assert own.execute("SELECT slug, tag FROM features").fetchall() == [(ROUTED, "ab:routed")]
    cost = json.loads(devloop(repo, "cost", "--all", "--format", "json").out)
    assert cost["total"]["calls"] == 20


def test_ab_stop_after_plan_and_the_side_by_side_table(repo, sim, devloop):
    sim(twice(plan_phase()))
    result = devloop(repo, "ab", "specs/goodbye.md", "--stop-after", "plan")
    assert result.code == 0, result
    assert "[routed] [ 1/15] research" in result.out and "[frontier] [ 6/15]" in result.out
    table = result.out[result.out.index("A/B: 'Add a goodbye function'") :]
    for row in ("status", "cost", "tokens in / cache write", "wall time", "escalations",
                "review findings", "diff", "final suite", "branch", "ledger tag"):  # fmt: skip
        assert f"\n{row}" in table, row
    suite = next(line for line in table.splitlines() if line.startswith("final suite"))
    assert suite.count("not run (no implementation yet)") == 2
    assert "stopped" in next(line for line in table.splitlines() if line.startswith("status"))
    assert "Routed cost $" in table and "vs all-frontier" in table
    # While the worktrees are here a second A/B of the spec is refused; --clean removes
    # them (keeping each arm's .devloop and the branches), then it can run again.
    again = devloop(repo, "ab", "specs/goodbye.md")
    assert again.code == 2 and "--clean" in again.err
    cleaned = devloop(repo, "ab", SLUG, "--clean")
    assert cleaned.code == 0, cleaned
    assert not (repo / AB / "routed").exists()
    assert (repo / AB / "routed.devloop" / "ledger.db").is_file()
    assert git(repo, "branch", "--list", f"devloop/{ROUTED}").strip()
    assert "Branches and the rows in the repository's ledger are kept." in cleaned.out


def test_clean_keeps_a_worktree_with_changes(repo, sim, devloop):
    sim(twice(plan_phase(research=[{"text": "notes"}])))
    assert devloop(repo, "ab", "specs/goodbye.md", "--stop-after", "1").code == 0
    (repo / AB / "frontier" / "src" / "app.py").write_text("# a person's edit\n")
    result = devloop(repo, "ab", "specs/goodbye.md", "--clean")
    assert result.code == 0, result
    assert f"kept {repo / AB / 'frontier'}: it has uncommitted changes (src/app.py)" in result.out
    assert (repo / AB / "frontier" / "src" / "app.py").read_text() == "# a person's edit\n"
    assert not (repo / AB / "routed").exists()


def test_a_failing_arm_is_reported_and_the_other_still_runs(repo, sim, devloop):
    sim({**plan_phase(), "research": [{"text": "notes"}, {"status": 400, "message": "no"}]})
    result = devloop(repo, "ab", "specs/goodbye.md", "--stop-after", "1", "--json")
    assert result.code == 1
    data = json.loads(result.out)
    assert data["arms"]["routed"]["status"] == "stopped"
    assert data["arms"]["frontier"]["status"] == "failed"
    assert data["arms"]["frontier"]["exit_code"] == 4
    assert "A/B arm(s) did not finish: frontier (failed" in result.err


def test_arm_slugs_skip_names_already_taken():
    taken = {"login-ab-routed", "login-ab-routed-2"}
    assert ab._arm_slug("login", "routed", taken.__contains__) == "login-ab-routed-3"
    long = "x" * 48
    slug = ab._arm_slug(long, "frontier", lambda s: False)
    assert len(slug) == 48 and slug.endswith("-ab-frontier")


def test_ab_on_a_shared_ledger_is_refused_before_anything_is_made(repo, sim, devloop, monkeypatch):
    # The URL is never connected to: the refusal comes first, so no server is needed.
    monkeypatch.setenv("DEVLOOP_LEDGER_URL", "postgresql://team@db.invalid/devloop")
    server = sim(twice(plan_phase()))
    result = devloop(repo, "ab", "specs/goodbye.md", "--stop-after", "1")
    assert result.code == 2, result
    assert "shared PostgreSQL one" in result.err and "Run the A/B with it unset" in result.err
    assert not (repo / AB).exists() and server.count() == 0

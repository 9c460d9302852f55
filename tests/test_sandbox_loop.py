"""No sandbox, no agent: the loop refuses the build steps without one, and the opt-out is
loud and recorded. Also what pre-flight and the dry run say about the sandbox and about
the untracked files they keep private."""

from __future__ import annotations

import json
import sqlite3

from loop_harness import SLUG, build_phase, feature_dir, git, plan_phase, read_state

from devloop import sandbox


def no_bwrap(monkeypatch) -> None:
    monkeypatch.setenv(sandbox.BWRAP_VARIABLE, "/nonexistent/bwrap")


def test_without_a_sandbox_a_feature_refuses_before_anything_is_made(
    repo, sim, devloop, monkeypatch
):
    no_bwrap(monkeypatch)
    server = sim(plan_phase())
    result = devloop(repo, "feature", "specs/goodbye.md")
    assert result.code == 2, result
    assert "bubblewrap" in result.err and "apt-get install bubblewrap" in result.err
    assert "--unsandboxed" in result.err and "Traceback" not in result.err
    assert server.count() == 0  # not a token spent
    assert git(repo, "branch", "--list", f"devloop/{SLUG}") == ""
    assert not feature_dir(repo).exists()


def test_the_plan_phase_needs_no_sandbox_and_the_build_does(repo, sim, devloop, monkeypatch, agent):
    no_bwrap(monkeypatch)
    sim({**plan_phase(), **build_phase()})
    result = devloop(repo, "feature", "specs/goodbye.md", "--stop-after", "plan")
    assert result.code == 0, result
    before = read_state(repo)
    result = devloop(repo, "resume", SLUG)
    assert result.code == 2 and "bubblewrap" in result.err, result
    assert read_state(repo)["steps"] == before["steps"]  # nothing ran, nothing was reset
    assert agent.calls == []


def test_opting_out_warns_on_every_run_and_is_recorded(repo, sim, devloop, monkeypatch, agent):
    no_bwrap(monkeypatch)
    sim({**plan_phase(), **build_phase()})
    result = devloop(repo, "feature", "specs/goodbye.md", "--unsandboxed", "--stop-after", "7")
    assert result.code == 0, result
    warning = "the sandbox is off (--unsandboxed)"
    assert warning in result.err and "access to your files, network" in result.err
    state = read_state(repo)
    assert state["sandbox"] == "off (--unsandboxed)" and state["unsandboxed_runs"] == 1
    checks = json.loads((feature_dir(repo) / "07-preflight.json").read_text())
    (check,) = [c for c in checks if c["name"] == "sandbox"]
    assert check["passed"] and check["summary"].startswith("OFF: no sandbox (off (--unsandboxed))")
    # The next run opts out through the config instead: warned again, counted again.
    with (repo / "devloop.toml").open("a") as config:
        config.write('\n[sandbox]\nmode = "off"\n')
    git(repo, "commit", "-qam", "chore: no sandbox here")
    result = devloop(repo, "resume", SLUG)
    assert result.code == 0, result
    assert 'the sandbox is off ([sandbox] mode = "off")' in result.err
    state = read_state(repo)
    assert state["unsandboxed_runs"] == 2 and state["status"] == "done"
    db = sqlite3.connect(repo / ".devloop" / "ledger.db")
    rows = dict(db.execute("SELECT step_key, sandbox FROM step_runs WHERE step_number >= 7"))
    assert rows["preflight"] == "off (--unsandboxed)"
    assert rows["implement"] == rows["smoke"] == 'off ([sandbox] mode = "off")'
    planned = db.execute("SELECT sandbox FROM step_runs WHERE step_key = 'research'").fetchone()
    assert planned == (None,)  # a model-only step runs no command


def test_a_sandboxed_run_records_its_sandbox(repo, sim, devloop, agent):
    sim({**plan_phase(), **build_phase()})
    result = devloop(repo, "feature", "specs/goodbye.md")
    assert result.code == 0, result
    assert "sandbox is off" not in result.err
    state = read_state(repo)
    assert state["sandbox"].startswith("bubblewrap") and state["unsandboxed_runs"] == 0
    db = sqlite3.connect(repo / ".devloop" / "ledger.db")
    (label,) = db.execute("SELECT sandbox FROM step_runs WHERE step_key = 'e2e'").fetchone()
    assert label == state["sandbox"]


def test_dry_run_says_which_sandbox_and_which_files_stay_private(repo, devloop, monkeypatch):
    (repo / "notes.txt").write_text("mine\n")
    result = devloop(repo, "feature", "specs/goodbye.md", "--dry-run")
    assert result.code == 1 and "would stop at (api)" in result.err, result  # only: no key
    assert "ok    sandbox: bubblewrap" in result.out
    assert "private files: not seen and not committed: notes.txt" in result.out
    no_bwrap(monkeypatch)
    result = devloop(repo, "feature", "specs/goodbye.md", "--dry-run")
    assert "FAIL  sandbox: bubblewrap (/nonexistent/bwrap) is not installed" in result.out

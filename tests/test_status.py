"""`devloop status` after a run was killed outright: the feature shows as interrupted (the
lock's owner is gone) with the way to resume it, while a live run shows as running."""

from __future__ import annotations

import json
import signal
import subprocess

from loop_harness import (  # the fixtures (repo, sim, devloop) via conftest
    PLAN,
    SLUG,
    plan_phase,
    spawn,
    wait_for,
)

from devloop.state import RepoLock


def kill_while_planning(repo, sim, before_the_kill=lambda: None) -> subprocess.Popen:
    """`devloop feature` killed (-9) while step 2 waits for its answer; the dead process."""
    s = sim(plan_phase(plan=[{"text": PLAN, "delay": 5}, {"text": PLAN}]))
    proc = spawn(repo, s.env, "feature", "specs/goodbye.md", quiet=True)
    try:
        wait_for(lambda: s.count("plan") == 1)  # step 2 is waiting for its answer
        before_the_kill()
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        proc.kill()
        proc.wait()
    return proc


def test_a_killed_run_shows_as_interrupted_with_how_to_resume(repo, sim, devloop):
    def while_running() -> None:
        live = devloop(repo, "status")
        assert live.code == 0, live
        row = next(line for line in live.out.splitlines() if line.startswith(SLUG))
        assert row.split()[1] == "running" and "interrupted" not in live.out

    proc = kill_while_planning(repo, sim, while_running)
    # What the kill left: state.json still says running, the lock file names the dead pid.
    assert RepoLock(repo).last_record()["pid"] == proc.pid
    assert RepoLock(repo).holder() is None

    listed = devloop(repo, "status")
    assert listed.code == 0, listed
    row = next(line for line in listed.out.splitlines() if line.startswith(SLUG))
    assert row.split()[1] == "interrupted"
    hint = " ".join(listed.out.split())
    assert f"{SLUG}: interrupted: the run working on it (pid {proc.pid}) is gone" in hint
    assert f"Continue with `devloop resume {SLUG}`." in hint

    one = devloop(repo, "status", SLUG)
    assert one.out.splitlines()[0].startswith(f"{SLUG}: interrupted on ")
    plan_row = next(line for line in one.out.splitlines() if line.split()[1:2] == ["plan"])
    assert plan_row.split()[2] == "interrupted"
    assert f"devloop resume {SLUG}" in one.out

    (doc,) = json.loads(devloop(repo, "status", "--json").out)
    assert doc["status"] == "interrupted" and doc["interrupted"] is True

    # The hint works: resume takes the stale lock over and the status follows the run.
    resumed = devloop(repo, "resume", SLUG, "--stop-after", "plan")
    assert resumed.code == 0, resumed
    after = devloop(repo, "status")
    row = next(line for line in after.out.splitlines() if line.startswith(SLUG))
    assert row.split()[1] == "stopped" and "interrupted" not in after.out


def test_a_live_lock_for_another_feature_does_not_make_this_one_running(repo, sim, devloop):
    """Only one run holds a repository: a feature whose state says running while the lock
    is held for another feature was cut off too."""
    kill_while_planning(repo, sim)
    with RepoLock(repo).acquire("devloop feature other-feature", "other-feature"):
        held = devloop(repo, "status", "--json")
    (doc,) = json.loads(held.out)
    assert doc["status"] == "interrupted"

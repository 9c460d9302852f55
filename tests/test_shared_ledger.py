"""A ledger shared by a team, in PostgreSQL (pg_harness starts the server): devloop processes
in different repositories write one set of books and report it alike, a team's ceiling holds
against many processes at once, and a database that goes away stops the spending (exit 4)
without losing what was recorded. Real processes, the real SDK, the offline server."""

from __future__ import annotations

import json
import subprocess
import time
from decimal import Decimal
from pathlib import Path

import psycopg
from loop_harness import CONFIG, FAKE_KEY, SPEC, git, plan_phase, spawn

from devloop.errors import EXIT_API, EXIT_BUDGET
from devloop.ledger import pico_to_usd
from devloop.model import pricing
from devloop.sim import SimServer


def make_repo(path: Path, title: str, config: str = "") -> Path:
    """A git repository with the loop tests' tiny project and a spec titled `title`."""
    path.mkdir(parents=True)
    git(path, "init", "-q")
    (path / "devloop.toml").write_text(CONFIG.format(max_revisions=2) + config)
    (path / ".gitignore").write_text(".devloop/\n")
    (path / "src").mkdir()
    (path / "src" / "app.py").write_text("def hello():\n    return 'hi'\n")
    (path / "specs").mkdir()
    (path / "specs" / "spec.md").write_text(SPEC.replace("# Add a goodbye function", f"# {title}"))
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "chore: project")
    return path


def finish(proc: subprocess.Popen, timeout: float = 180) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def run(repo: Path, env: dict[str, str], *args: str) -> tuple[int, str, str]:
    return finish(spawn(repo, env, *args))


def sim_env(server: SimServer, url: str, user: str) -> dict[str, str]:
    return {
        "ANTHROPIC_BASE_URL": server.base_url,
        "ANTHROPIC_API_KEY": FAKE_KEY,
        "DEVLOOP_LEDGER_URL": url,
        "DEVLOOP_USER": user,
    }


def query(url: str, sql: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(sql, params).fetchall()


def repriced_pico(url: str) -> int:
    """Every recorded call priced again by hand from the raw usage the API sent (kept as
    JSON in the row), summed in Python: what the report's SQL sums must equal."""
    from devloop.money import usd_to_pico

    rows = query(url, "SELECT served_model, usage_json FROM calls")
    return sum(usd_to_pico(pricing.cost_usd(model, json.loads(usage))) for model, usage in rows)


# ------------------------------------------------------------- two repositories


def test_two_repositories_share_one_ledger_and_report_it_alike(tmp_path, pg_url):
    shop = make_repo(tmp_path / "shop", "Add a goodbye function")
    blog = make_repo(tmp_path / "blog", "Add a farewell page")
    servers = [SimServer({"steps": plan_phase()}).start() for _ in range(2)]
    try:
        procs = [
            spawn(
                repo, sim_env(server, pg_url, user), "feature", "specs/spec.md", "--stop-after", "6"
            )
            for repo, server, user in zip((shop, blog), servers, ("ada", "grace"), strict=True)
        ]
        for proc in procs:
            code, out, err = finish(proc)
            assert code == 0, err
        assert [len(server.message_requests()) for server in servers] == [6, 6]
    finally:
        for server in servers:
            server.close()
    env = {"DEVLOOP_LEDGER_URL": pg_url}
    reports = []
    for repo in (shop, blog):
        code, out, err = run(repo, env, "cost", "--all", "--format", "json")
        assert code == 0, err
        reports.append(json.loads(out))
    assert reports[0] == reports[1]  # one ledger, one report, from either repository
    total = reports[0]["total"]
    assert total["calls"] == 12  # six model steps in each repository
    assert total["cost_usd"] == f"{pico_to_usd(repriced_pico(pg_url)):.12f}"  # to the pico
    # Each repository's own feature, reported from it, adds up to the shared total.
    own = []
    for repo, slug in ((shop, "add-a-goodbye-function"), (blog, "add-a-farewell-page")):
        code, out, err = run(repo, env, "cost", slug, "--format", "json")
        assert code == 0, err
        own.append(Decimal(json.loads(out)["total"]["cost_usd"]))
        row = next(r for r in reports[0]["rows"] if r["key"] == slug)
        assert Decimal(row["cost_usd"]) == own[-1]
    assert sum(own) == Decimal(total["cost_usd"])
    # Who and where each call was made.
    rows = query(
        pg_url, "SELECT repository, user_name, branch, COUNT(*) FROM calls GROUP BY 1, 2, 3"
    )
    assert sorted(rows) == [
        ("blog", "grace", "devloop/add-a-farewell-page", 6),
        ("shop", "ada", "devloop/add-a-goodbye-function", 6),
    ]


# ---------------------------------------------------------------- a team ceiling


TEAM = '\n[budget]\nteam = "platform"\ndaily_usd = {daily}\n'


def test_concurrent_processes_never_spend_past_the_team_ceiling(tmp_path, pg_url):
    """Six devloop processes in six repositories, one team ceiling: what fits is sent, the
    rest is refused before it is sent, and at no moment did the reservations exceed it."""
    slow = {"text": "## Relevant code\n- src/app.py: hello()", "delay": 2.0}
    server = SimServer({"steps": {"research": [slow] * 6}}).start()
    try:
        # The worst case of one research call, from one run under a generous ceiling.
        probe = make_repo(tmp_path / "probe", "Probe the worst case", TEAM.format(daily=100))
        code, _, err = run(
            probe, sim_env(server, pg_url, "probe"), "feature", "specs/spec.md", "--stop-after", "1"
        )
        assert code == 0, err
        ((worst,),) = query(pg_url, "SELECT worst_pico FROM reservations")
        ((spent,),) = query(pg_url, "SELECT SUM(cost_pico) FROM calls")
        # Room for two more calls in flight at their worst case, never three.
        ceiling = spent + 2 * worst + worst // 2
        daily = pico_to_usd(ceiling)
        repos = [
            make_repo(tmp_path / f"repo{i}", f"Feature number {i}", TEAM.format(daily=daily))
            for i in range(6)
        ]
        before = len(server.message_requests())
        procs = [
            spawn(repo, sim_env(server, pg_url, f"dev{i}"), "feature", "specs/spec.md",
                  "--stop-after", "1")
            for i, repo in enumerate(repos)
        ]  # fmt: skip
        results = [finish(proc) for proc in procs]
        sent = len(server.message_requests()) - before
    finally:
        server.close()
    codes = sorted(code for code, _, _ in results)
    assert set(codes) <= {0, EXIT_BUDGET}, results
    refused = [err for code, _, err in results if code == EXIT_BUDGET]
    assert refused, "the ceiling never bound: the test proves nothing"
    assert all("team 'platform' today" in err for err in refused)
    assert sent == codes.count(0) >= 2  # every request the server saw is a finished run
    ((recorded,),) = query(pg_url, "SELECT COUNT(*) FROM calls")
    assert recorded == 1 + sent  # and every one is in the books
    ((total,),) = query(pg_url, "SELECT SUM(cost_pico) FROM calls WHERE team = 'platform'")
    assert total <= ceiling
    # Replay the reservations in the order they were granted: each one fitted, counting
    # every earlier one at its worst case until it settled.
    held = query(
        pg_url,
        "SELECT r.created_at, r.worst_pico, r.settled_at, c.cost_pico FROM reservations r"
        " LEFT JOIN calls c ON c.id = r.call_id ORDER BY r.created_at",
    )
    for i, (created, worst_i, _, _) in enumerate(held):
        before_it = sum(
            cost if settled is not None and settled <= created else w
            for _, w, settled, cost in held[:i]
        )
        assert before_it + worst_i <= ceiling


# ------------------------------------------------------- the database goes away


def test_the_database_going_away_stops_the_next_call_with_exit_4(tmp_path, pg_cluster, pg_database):
    name, url = pg_database
    repo = make_repo(tmp_path / "shop", "Add a goodbye function")
    slow = {"json": {"coverage": [], "findings": [], "verdict": "pass"}, "delay": 3.0}
    steps = plan_phase(**{"validate-requirements": [slow], "validate-integration": [slow]})
    server = SimServer({"steps": steps}).start()
    try:
        proc = spawn(repo, sim_env(server, url, "ada"), "feature", "specs/spec.md")
        deadline = time.monotonic() + 60
        while not all(
            server.message_requests(step)
            for step in ("validate-requirements", "validate-integration")
        ):
            assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
            time.sleep(0.05)
        recorded = query(url, "SELECT id, step_key, cost_pico FROM calls ORDER BY id")
        pg_cluster.cut_off(name)  # while both validations are being answered
        try:
            code, out, err = finish(proc)
        finally:
            pg_cluster.restore(name)
        requests = [r.step for r in server.message_requests()]
    finally:
        server.close()
    assert code == EXIT_API, err
    assert "cannot be reached" in err and "Traceback" not in err
    assert [step for _, step, _ in recorded] == ["research", "plan"]
    # Nothing recorded was lost, and nothing was sent after the database went away.
    assert query(url, "SELECT id, step_key, cost_pico FROM calls ORDER BY id")[:2] == recorded
    assert requests[:2] == ["research", "plan"]
    assert sorted(requests[2:]) == ["validate-integration", "validate-requirements"]
    # The two answers that arrived while it was gone are in the transcripts; their
    # reservations are still open, so they count against every ceiling until settled.
    ((open_count,),) = query(url, "SELECT COUNT(*) FROM reservations WHERE status = 'open'")
    assert open_count + len(query(url, "SELECT id FROM calls")) == 4
    # With the database back, resuming books them from the transcripts and uses them: the
    # server is not asked for them again.
    server = SimServer({"steps": plan_phase()}).start()
    try:
        code, _, err = run(repo, sim_env(server, url, "ada"), "resume", "--stop-after", "4")
        again = [r.step for r in server.message_requests()]
    finally:
        server.close()
    assert code == 0, err
    assert again == []
    steps = [step for (step,) in query(url, "SELECT step_key FROM calls ORDER BY id")]
    assert steps[:2] == ["research", "plan"]
    assert sorted(steps[2:]) == ["validate-integration", "validate-requirements"]
    assert query(url, "SELECT COUNT(*) FROM reservations WHERE status = 'open'") == [(0,)]


def test_an_unreachable_ledger_refuses_to_start_a_feature(tmp_path):
    repo = make_repo(tmp_path / "shop", "Add a goodbye function")
    url = f"postgresql://devloop@/devloop?host={tmp_path}&port=5999&connect_timeout=2"
    server = SimServer({"steps": plan_phase()}).start()
    try:
        code, _, err = run(repo, sim_env(server, url, "ada"), "feature", "specs/spec.md")
        assert server.message_requests() == []
    finally:
        server.close()
    assert code == EXIT_API
    assert err.startswith("devloop: error: the shared ledger") and "cannot be reached" in err
    assert "Traceback" not in err
    assert "devloop/add-a-goodbye-function" not in git(repo, "branch")  # nothing was made
    assert not (repo / ".devloop" / "features").exists()

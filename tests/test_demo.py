"""`devloop demo`: the bundled sample, spec and scripted replies, and the whole offline run.

The bundle tests need no build agent: they check the scenario against the schemas the
engine enforces and replay its tool calls through the agent's real sandbox, so a drift
between the sample and the scripted edits fails here, loudly, before any demo run. The
full-run tests drive `devloop demo` as a user would (a subprocess, no key, no git
identity) and need devloop/agent.py.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest

from devloop import checks, jsonshape
from devloop import config as config_mod
from devloop.agent.tools.workspace import Workspace
from devloop.demo import demo
from devloop.git import repository
from devloop.loop import preflight
from devloop.schemas import BUILD_PLAN, FINDINGS, VERDICT, BuildPlan, findings_of

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TRAILERS = ("Devloop-Feature", "Devloop-Cost", "Devloop-Frontier-Baseline")
SCHEMAS = {
    "validate-requirements": VERDICT,
    "validate-integration": VERDICT,
    "double-check": VERDICT,
    "build-plan": BUILD_PLAN,
    "review": FINDINGS,
    "audit": FINDINGS,
}
TOOL_STEPS = ("implement", "remediate", "commit")


def git(cwd: Path, *args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    assert proc.returncode == 0, f"git {' '.join(args)} failed: {proc.stderr}"
    return proc.stdout


def structured(step: str) -> list[dict]:
    return [json.loads(reply.blocks[0].text) for reply in demo.load_scenario().steps[step]]


def replay(root: Path, steps: tuple[str, ...] = TOOL_STEPS) -> None:
    """Run every scripted tool call of `steps` through the build agent's sandbox."""
    workspace = Workspace(root, config_mod.load(root))
    for step in steps:
        for reply in demo.load_scenario().steps[step]:
            for block in reply.blocks:
                if block.type == "tool_use":
                    result = workspace.run_tool(block.name, block.input)
                    assert not result.is_error, (step, block.input.get("path"), result.content)


def stop_words_of(root: Path, text: str) -> str:
    """What the sample's load_stop_words makes of a file holding `text`."""
    (root / "stop.txt").write_text(text)
    code = "from tally.stopwords import load_stop_words as f; print(sorted(f('stop.txt')))"
    proc = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)
    (root / "stop.txt").unlink()
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


# ------------------------------------------------------------------ the bundle


def test_structured_replies_match_the_schemas_the_engine_enforces():
    for step, schema in SCHEMAS.items():
        for data in structured(step):
            assert jsonshape.problems(data, schema) == [], step


def test_the_scenario_tells_the_story_the_demo_promises():
    # One validation finding forces one plan revision; every other gate passes.
    first, second = structured("validate-requirements")
    assert first["verdict"] == "fail" and any(f.at_least("high") for f in findings_of(first))
    assert second["verdict"] == "pass"
    assert [d["verdict"] for d in structured("validate-integration")] == ["pass", "pass"]
    assert [d["verdict"] for d in structured("double-check")] == ["pass"]
    plans = [reply.blocks[0].text for reply in demo.load_scenario().steps["plan"]]
    assert len(plans) == 2 and all("## Integration Contract" in p for p in plans)
    assert "cannot read stop words" not in plans[0] and "cannot read stop words" in plans[1]
    # Exactly one review finding for step 11; the audit finds nothing.
    (review,) = structured("review")
    assert sum(f.at_least("high") for f in findings_of(review)) == 1
    assert structured("audit") == [{"findings": []}]
    # Pre-flight would pass: no open markers, files to modify exist, new ones do not.
    (build,) = structured("build-plan")
    texts = {"02-plan.md": plans[1], "05-build-plan.json": json.dumps(build)}
    assert preflight.markers_check(texts).passed
    plan = BuildPlan.from_dict(build)
    assert 2 <= len(plan.tasks) <= 3
    sample = Path(str(demo.bundled().joinpath("sample")))
    assert all((sample / p).is_file() for p in plan.files("modify"))
    assert not any((sample / p).exists() for p in plan.files("create"))


def test_prepare_makes_a_committed_repository_with_stdlib_commands(tmp_path):
    repo = demo.prepare(tmp_path / "repo")
    assert repo.root == tmp_path / "repo" and repo.spec.is_file()
    assert git(repo.root, "status", "--porcelain") == ""
    assert git(repo.root, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"
    assert (repo.root / ".gitignore").read_text().count(".devloop/") == 1
    cfg = config_mod.load(repo.root)
    for command in (cfg.commands.lint, cfg.commands.test, cfg.commands.smoke):
        assert command.startswith(sys.executable) and "pytest" not in command
    assert checks.run_tests(cfg).passed and checks.run_lint(cfg).passed
    assert not checks.run_smoke(cfg)[0].passed  # the smoke test needs the feature


def test_scripted_edits_make_real_tests_pass_and_those_tests_fail_without_them(tmp_path):
    repo = demo.prepare(tmp_path / "repo")
    replay(repo.root, ("implement",))
    # The review's finding is true of the implementation, and step 11 fixes it.
    assert stop_words_of(repo.root, "The\nAND\n") == "['AND', 'The']"
    replay(repo.root, ("remediate", "commit"))
    assert stop_words_of(repo.root, "The\nAND\n") == "['and', 'the']"
    cfg = config_mod.load(repo.root)
    for result in (checks.run_tests(cfg), checks.run_lint(cfg), *checks.run_smoke(cfg)):
        assert result.passed, result
    changed = repository.changed_paths(repo.root)
    assert {"README.md", "CHANGELOG.md", "tally/stopwords.py"} <= set(changed)
    # The new tests are real: on the sample as it was, they fail.
    original = demo.prepare(tmp_path / "original")
    for path in (p for p in changed if p.startswith("tests/")):
        shutil.copy(repo.root / path, original.root / path)
    assert not checks.run_tests(config_mod.load(original.root)).passed


def test_default_directory_is_a_new_temporary_one(tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    assert demo.target_dir(None) is None
    repo = demo.prepare(None)
    assert repo.root.parent.parent == tmp_path and repo.root.name == "tally"


def test_the_wheel_ships_the_bundle_and_an_install_finds_it(wheel, wheel_site, tmp_path):
    names = set(zipfile.ZipFile(wheel).namelist())
    bundle = PROJECT_ROOT / "devloop" / "demo"
    expected = {
        f"devloop/demo/{p.relative_to(bundle).as_posix()}"
        for p in bundle.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert expected <= names
    site = wheel_site
    code = (
        "from devloop.demo import demo; import sys; "
        "repo = demo.prepare(__import__('pathlib').Path(sys.argv[1])); "
        "print(demo.bundled()); print(len(demo.load_scenario().steps))"
    )
    env = dict(os.environ, PYTHONPATH=str(site))
    found = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "repo")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert found.returncode == 0, found.stderr
    where, steps = found.stdout.split()
    assert Path(where).resolve().is_relative_to(site.resolve()) and int(steps) > 5
    assert (tmp_path / "repo" / "tally" / "cli.py").is_file()
    assert (tmp_path / "repo" / ".gitignore").is_file()


# ------------------------------------------------------------------ the command


@pytest.mark.parametrize("kind", ["non-empty directory", "file"])
def test_a_taken_dir_is_refused_with_exit_2_and_nothing_written(tmp_path, run_devloop, kind):
    target = tmp_path / "taken"
    if kind == "file":
        target.write_text("mine\n")
    else:
        target.mkdir()
        (target / "keep.txt").write_text("mine\n")
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    result = run_devloop(tmp_path, "demo", "--dir", str(target))
    assert result.returncode == 2, result.stderr
    assert "new or empty directory" in result.stderr
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before
    assert (target if kind == "file" else target / "keep.txt").read_text() == "mine\n"


def fresh_machine_env(home: Path, **extra: str) -> dict[str, str]:
    """No API key, no git identity, no user or system git config: a fresh machine."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "GIT_"))}
    (home / ".gitconfig").write_text("")
    env.update(HOME=str(home), GIT_CONFIG_GLOBAL=str(home / ".gitconfig"))
    env.update(GIT_CONFIG_NOSYSTEM="1", NO_COLOR="1", **extra)
    return env


def run_demo(target: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "devloop", "demo", "--dir", str(target)],
        cwd=target.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    pytest.importorskip("devloop.agent")
    base = tmp_path_factory.mktemp("demo")
    home = base / "home"
    home.mkdir()
    target = base / "tally"
    return target, run_demo(target, fresh_machine_env(home))


def test_demo_runs_the_whole_loop_and_commits_with_trailers(finished):
    repo, result = finished
    assert result.returncode == 0, result.stdout + result.stderr
    assert "never used" not in result.stderr  # the scenario and the engine agree
    assert "revision 1 of 2" in result.stdout  # step 3's finding revised the plan
    for line in ("[15/15] smoke", "Cost of feature 'stop-words' by step"):
        assert line in result.stdout
    trailers = git(repo, "log", "-1", "--format=%(trailers:only,unfold)")
    for name in TRAILERS:
        assert f"{name}: " in trailers
    assert git(repo, "log", "-1", "--format=%s").startswith("feat(cli): ")
    committed = set(git(repo, "show", "--name-only", "--format=", "HEAD").split())
    assert {"tally/stopwords.py", "tests/test_stopwords.py", "README.md"} <= committed
    assert git(repo, "status", "--porcelain") == ""
    assert (repo / ".devloop" / "features" / "stop-words" / "02-plan.md").is_file()


def test_demo_repository_tests_pass(finished):
    repo, result = finished
    assert result.returncode == 0, result.stderr
    cfg = config_mod.load(repo)
    tests = checks.run_tests(cfg)
    assert tests.passed, tests
    proc = subprocess.run(
        [sys.executable, "-m", "unittest", "discover", "-s", "tests"],
        cwd=repo,
        capture_output=True,
        text=True,
    )
    ran = re.search(r"Ran (\d+) tests", proc.stderr)
    assert proc.returncode == 0 and ran and int(ran[1]) > 13, proc.stderr  # 13 before


def test_demo_prints_savings_cache_share_and_the_scripted_notice(finished, run_devloop):
    repo, result = finished
    assert result.returncode == 0, result.stderr
    report = json.loads(run_devloop(repo, "cost", "stop-words", "--format", "json").stdout)
    total = report["total"]
    assert Decimal(total["cost_usd"]) < Decimal(total["baseline_usd"])
    cost, baseline = (Decimal(total[k]) for k in ("cost_usd", "baseline_usd"))
    assert f"Routed cost ${cost:.4f} against an always-frontier baseline of ${baseline:.4f}" in (
        result.stdout
    )
    assert "of all input tokens were read from cache" in result.stdout
    words = " ".join(result.stdout.split())  # the notice is wrapped
    assert "replies were scripted by devloop's offline server" in words
    assert "no model was called" in words and "at real prices" in words
    assert str(repo) in result.stdout


def test_cost_shows_the_features_cache_groups_and_their_read_share(finished, run_devloop):
    repo, result = finished
    assert result.returncode == 0, result.stderr
    report = json.loads(run_devloop(repo, "cost", "stop-words", "--format", "json").stdout)
    groups = {tuple(g["steps"]): g for g in report["cache_groups"]}
    # The groups templates/README.md documents: the verdict steps share one prefix on the
    # frontier model; the agent steps (docs included: same tool list) one on the mid model.
    verdicts = groups[("validate-requirements", "validate-integration", "double-check")]
    agent = groups[("implement", "remediate", "commit")]
    assert verdicts["model"] == "claude-opus-5-5" and agent["model"] == "claude-sonnet-5-5"
    assert ("research",) in groups and ("audit",) in groups and ("review",) in groups
    db = sqlite3.connect(repo / ".devloop" / "ledger.db")
    read, written, fresh = db.execute(
        "SELECT SUM(cache_read_input_tokens), SUM(cache_creation_input_tokens),"
        " SUM(input_tokens) FROM calls WHERE step_key IN ('implement', 'remediate', 'commit')"
    ).fetchone()
    assert agent["cache_read_tokens"] == read and agent["cache_write_tokens"] == written
    assert agent["cache_read_share"] == round(read / (read + written + fresh), 4)
    assert sum(g["calls"] for g in report["cache_groups"]) == report["total"]["calls"]
    text = run_devloop(repo, "cost", "stop-words").stdout
    assert "Prompt cache groups" in text
    assert "validate-requirements, validate-integration, double-check" in text


def test_a_users_key_and_base_url_are_never_used_or_written(tmp_path):
    pytest.importorskip("devloop.agent")
    home = tmp_path / "home"
    home.mkdir()
    key = "sk-ant-api03-the-users-own-key-0123456789"
    env = fresh_machine_env(
        home,
        ANTHROPIC_API_KEY=key,
        ANTHROPIC_BASE_URL="http://127.0.0.1:9",  # nothing there
    )
    target = tmp_path / "tally"
    result = run_demo(target, env)
    assert result.returncode == 0, result.stdout + result.stderr
    for path in (p for p in target.rglob("*") if p.is_file()):
        assert key.encode() not in path.read_bytes(), path


def _literal_audit(prompt: str) -> list[str]:
    """What an auditor that follows audit.md to the letter reports as "a listed file left
    unchanged": the contract's Files the diff does not touch, less the files another step
    owns (the docs, per the prompt's own statement)."""
    contract = prompt.split("<contract>", 1)[1].split("</contract>", 1)[0]
    files_part = contract.split("### Files", 1)[1].split("###", 1)[0]
    listed = re.findall(r"^- (\S+)", files_part, re.M)
    diff = prompt.split("<diff>", 1)[1].split("</diff>", 1)[0]
    touched = set(re.findall(r"^diff --git a/(\S+) b/", diff, re.M))
    owned = re.search(r"Documentation \(([^)]*)\) belongs to step", prompt)
    others = {name.strip() for name in owned[1].split(",")} if owned else set()
    return [f for f in listed if f not in touched and f not in others]


def test_an_audit_that_follows_its_template_literally_finds_no_docs_to_flag(finished):
    repo, result = finished
    assert result.returncode == 0, result.stderr
    transcripts = repo / ".devloop" / "features" / "stop-words" / "transcripts"
    (audit,) = [json.loads(p.read_text()) for p in sorted(transcripts.glob("*-audit.json"))]
    (message,) = audit["request"]["messages"]
    content = message["content"]
    prompt = content if isinstance(content, str) else "".join(b["text"] for b in content)
    assert "Documentation (README.md, CHANGELOG.md) belongs to step 14" in prompt
    assert "README.md" not in prompt.split("<contract>", 1)[1].split("</contract>", 1)[0]
    assert _literal_audit(prompt) == []

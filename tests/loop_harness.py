"""The e2e harness of the loop tests, shared by every test file that runs `devloop feature`.

A git repository with a tiny project and a spec (`repo`), the offline API server with a
scenario (`sim`: a dict step -> replies, counting the requests it saw), the CLI through its
real entry point (`devloop`), a fake build agent (`agent`), and scenario builders for the
plan phase (steps 1-6) and the build phase (8-14). Import the fixtures by name.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from devloop.agent.contract import StepOutcome
from devloop.cli import main
from devloop.loop import engine
from devloop.sim import SimServer


def git(cwd: Path, *args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    assert proc.returncode == 0, f"git {' '.join(args)} failed: {proc.stderr}"
    return proc.stdout


def spawn(repo: Path, env: dict[str, str], *args: str, quiet: bool = False) -> subprocess.Popen:
    """`devloop -C repo ARGS` as a child process (to kill, or to run beside another), with
    `env` over this process's environment; its output piped as text, or dropped (`quiet`)."""
    out = subprocess.DEVNULL if quiet else subprocess.PIPE
    return subprocess.Popen(
        [sys.executable, "-m", "devloop", "-C", str(repo), *args],
        env={**os.environ, **env},
        stdout=out,
        stderr=out,
        text=True,
    )


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


FAKE_KEY = "sk-ant-api03-loop-test-key-0123456789"
SLUG = "add-a-goodbye-function"
SPEC = """+++
scope = "app"
+++
# Add a goodbye function

Add `goodbye()` to src/app.py, next to `hello()`, returning "bye".
"""
PLAN = """## Approach
Add one function.

## Changes
- src/app.py: add goodbye()

## Integration Contract
### Interfaces
- `goodbye() -> str` in src/app.py
### Files
- src/app.py
### Invariants
- hello() is unchanged

## Tests
- tests/test_app.py
"""
PASS = {"coverage": [], "findings": [], "verdict": "pass"}
FINDING = {
    "severity": "high",
    "location": "plan: Tests",
    "problem": "no test for the return value of goodbye",
    "suggestion": "assert goodbye() == 'bye'",
}
FAIL = {"coverage": [], "findings": [FINDING], "verdict": "fail"}


def build_plan(path: str = "src/app.py", action: str = "modify") -> dict:
    return {
        "summary": "Add goodbye().",
        "tasks": [
            {
                "id": "T1",
                "title": "Add goodbye",
                "description": "Add goodbye() returning 'bye' to src/app.py.",
                "files": [{"path": path, "action": action}],
                "acceptance": ["goodbye() returns 'bye'"],
                "tests": ["python -c 'import src.app'"],
            }
        ],
    }


def plan_phase(**overrides) -> dict:
    """Replies for steps 1-6 with every gate passing; override any step's list."""
    steps = {
        "research": [{"text": "## Relevant code\n- src/app.py: hello()"}],
        "plan": [{"text": PLAN}],
        "validate-requirements": [{"json": PASS}],
        "validate-integration": [{"json": PASS}],
        "build-plan": [{"json": build_plan()}],
        "double-check": [{"json": PASS}],
    }
    steps.update(overrides)
    return steps


CONFIG = """[commands]
test = "true"
quick_test = "true"
smoke = "true"

[loop]
max_revisions = {max_revisions}
"""


@pytest.fixture
def repo(git_repo: Path) -> Path:
    (git_repo / "devloop.toml").write_text(CONFIG.format(max_revisions=2))
    (git_repo / ".gitignore").write_text(".devloop/\n")
    (git_repo / "src").mkdir()
    (git_repo / "src" / "app.py").write_text("def hello():\n    return 'hi'\n")
    (git_repo / "specs").mkdir()
    (git_repo / "specs" / "goodbye.md").write_text(SPEC)
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-q", "-m", "chore: project")
    return git_repo


class Sim:
    """A running SimServer with the environment pointing at it."""

    def __init__(self, steps: dict, monkeypatch) -> None:
        self.server = SimServer({"steps": steps}).start()
        self.env = {"ANTHROPIC_BASE_URL": self.server.base_url, "ANTHROPIC_API_KEY": FAKE_KEY}
        for name, value in self.env.items():
            monkeypatch.setenv(name, value)

    def count(self, step: str | None = None) -> int:
        return len(self.server.message_requests(step))

    def steps(self) -> list[str]:
        return [r.step for r in self.server.message_requests()]

    def bodies(self, step: str) -> list[dict]:
        return [r.body for r in self.server.message_requests(step)]


@pytest.fixture
def sim(monkeypatch):
    made: list[Sim] = []

    def start(steps: dict) -> Sim:
        made.append(Sim(steps, monkeypatch))
        return made[-1]

    yield start
    for s in made:
        s.server.close()


class Result:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def __repr__(self) -> str:
        return f"exit {self.code}\n--- stdout\n{self.out}\n--- stderr\n{self.err}"

    def __iter__(self):
        """`code, out, err = devloop(...)` unpacks a result."""
        return iter((self.code, self.out, self.err))


@pytest.fixture
def devloop(capsys):
    """Run `devloop -C repo ARGS` in-process through the real entry point (exit codes)."""

    def run(repo: Path, *args: str) -> Result:
        capsys.readouterr()
        try:
            main.main(["-C", str(repo), *args])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        out, err = capsys.readouterr()
        return Result(code, out, err)

    return run


def feature_dir(repo: Path) -> Path:
    return repo / ".devloop" / "features" / SLUG


def read_state(repo: Path) -> dict:
    return json.loads((feature_dir(repo) / "state.json").read_text())


def statuses(repo: Path) -> dict[str, str]:
    return {k: v["status"] for k, v in read_state(repo)["steps"].items()}


class FakeAgent:
    """A build agent that edits files directly; implement and docs also call the model, so
    their cost reaches the ledger like the real agent's would."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def implement(self, ctx, tasks):
        self.calls.append("implement")
        prompt = ctx.render(
            "implement",
            task_id=tasks[0].id,
            task_title=tasks[0].title,
            task_description=tasks[0].description,
            files="src/app.py",
            acceptance="- works",
            tests="none",
            contract=ctx.contract,
        )
        ctx.call(ctx.request([{"role": "user", "content": prompt}]))
        app = ctx.root / "src" / "app.py"
        app.write_text(app.read_text() + "\n\ndef goodbye():\n    return 'bye'\n")
        task = {"id": "T1", "attempts": 1, "first_attempt_pass": True, "escalated": False}
        task["summary"] = "Added goodbye(); tests/conftest.py also had to change, for the path."
        return StepOutcome(True, "added goodbye()", ["src/app.py"], {"tasks": [task]})

    def remediate(self, ctx, findings):
        self.calls.append(f"remediate:{len(findings)}")
        (ctx.root / "tests").mkdir(exist_ok=True)
        (ctx.root / "tests" / "test_app.py").write_text("def test_bye():\n    pass\n")
        return StepOutcome(True, "added a test", ["tests/test_app.py"])

    def final_remediate(self, ctx, failure):
        self.calls.append("final-remediate")
        self.failure = failure
        (ctx.root / "fixed").write_text("yes\n")
        return StepOutcome(True, "fixed the suite", ["fixed"], {"failure": failure[:200]})

    def write_docs(self, ctx, summary):
        self.calls.append("write-docs")
        ctx.call(ctx.request([{"role": "user", "content": ctx.render("commit", summary=summary)}]))
        readme = ctx.root / "README.md"
        readme.write_text(readme.read_text() + "\n`goodbye()` says bye.\n")
        return StepOutcome(True, "documented goodbye()", ["README.md"])


@pytest.fixture
def agent(monkeypatch) -> FakeAgent:
    fake = FakeAgent()
    monkeypatch.setattr(engine, "load_agent_factory", lambda: lambda cfg: fake)
    return fake


def build_phase(review: list[dict] | None = None, audit: list[dict] | None = None) -> dict:
    return {
        "implement": [{"text": "src/app.py: added goodbye()"}],
        "review": review or [{"json": {"findings": [FINDING]}}],
        "audit": audit or [{"json": {"findings": []}}],
        "commit": [{"text": "README.md: documented goodbye()"}],
    }


class EscalatingAgent(FakeAgent):
    """Like FakeAgent, but step 8 first answers on its routed tier, then escalates to a
    fresh frontier call linked to it (escalated_from), as the real agent does when stuck.
    Its scenario needs two `implement` replies."""

    def implement(self, ctx, tasks):
        self.calls.append("implement")
        request = ctx.request([{"role": "user", "content": f"implement {tasks[0].id}"}])
        first = ctx.call(request)
        ctx.call(request, tier="frontier", escalated_from=first.call_id)
        app = ctx.root / "src" / "app.py"
        app.write_text(app.read_text() + "\n\ndef goodbye():\n    return 'bye'\n")
        details = {"tasks": [{"id": "T1", "first_attempt_pass": False, "escalated": True}]}
        return StepOutcome(True, "added goodbye() after escalating", ["src/app.py"], details)


@pytest.fixture
def escalating_agent(monkeypatch) -> EscalatingAgent:
    fake = EscalatingAgent()
    monkeypatch.setattr(engine, "load_agent_factory", lambda: lambda cfg: fake)
    return fake


def with_router(repo: Path, router: str, extra: str = "") -> None:
    """Set [routing] router (and any extra [routing] lines) in the repo's config, committed."""
    text = CONFIG.format(max_revisions=2) + f'\n[routing]\nrouter = "{router}"\n{extra}'
    (repo / "devloop.toml").write_text(text)
    git(repo, "commit", "-qam", f"chore: {router} router")

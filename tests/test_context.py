"""The project map's token budget, prompt templates and their rendering."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from generated_repo import write_modules

from devloop import tokens
from devloop.codemap import project_map
from devloop.loop import prompts
from devloop.loop.prompts import TemplateError, render
from devloop.model import Request, build_params


def make_repo(root: Path, files: int) -> Path:
    """A git repository of `files` tracked files: a README, a pyproject and Python modules."""
    root.mkdir(parents=True)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    (root / "README.md").write_text("# Generated\n\nA generated project for size tests.\n")
    (root / "pyproject.toml").write_text('[project]\nname = "generated"\nversion = "0.1"\n')
    write_modules(root, files - 2)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    return root


def research_request_bytes(root: Path, budget: int = 4_000) -> int:
    """Size of the research step's request body, built as the loop builds it."""
    system = prompts.system_text(root)
    spec = prompts.spec_block("Add an export command", "Add `export` to the CLI.\n", "export")
    prefix = [project_map(root, budget, hints="Add `export` to the CLI."), spec]
    message = prompts.render_template(root, "research", {"title": "Add an export command"})
    params = build_params(
        Request([{"role": "user", "content": message}], system, prefix), "claude-opus-5-5", None
    )
    return len(json.dumps(params))


def test_map_stays_within_budget_on_a_large_repo(tmp_path):
    repo = make_repo(tmp_path / "big", 1_000)
    text = project_map(repo, 4_000)
    assert tokens.estimate(text) <= 4_000
    assert "1000 files" in text
    assert "files: .py" in text  # deep directories are summarised, not listed


def test_small_repo_is_shown_nearly_whole(tmp_path):
    repo = make_repo(tmp_path / "small", 10)
    text = project_map(repo, 4_000)
    layout = text[: text.index("## Definitions")]
    assert all(f"src/mod{i:04d}.py (85 lines)" in layout for i in range(8))
    assert (
        "\nsrc/mod0000.py\n10: class RecordError(Exception):\n15: class Record0:\n"
        "20:   def to_dict(self) -> dict:\n"
    ) in text
    assert "### README.md" in text and "class Store0:" in text
    assert tokens.estimate(text) <= 4_000


def test_large_repo_map_uses_its_budget_and_follows_the_spec(tmp_path):
    repo = make_repo(tmp_path / "big", 1_000)
    text = project_map(repo, 4_000, hints="Export the records of area07 as CSV.")
    assert 3_000 <= tokens.estimate(text) <= 4_000
    outlines = text[text.index("## Definitions") : text.index("## Excerpts")].splitlines()
    files = [line for line in outlines if line.startswith("src/")]
    assert files[0].startswith("src/area07/")  # the spec named area07: its files first
    assert all(f.startswith("src/area07/") for f in files[:4]), files
    excerpts = text[text.index("## Excerpts") :]
    assert excerpts.index("### README.md") < excerpts.index("### src/area07/")


def test_research_request_on_1000_files_is_at_most_1_5x_of_10_files(tmp_path):
    small = research_request_bytes(make_repo(tmp_path / "small", 10))
    large = research_request_bytes(make_repo(tmp_path / "large", 1_000))
    assert large <= 1.5 * small, (small, large)


def test_map_ignores_devloop_dir_and_is_deterministic(tmp_path):
    repo = make_repo(tmp_path / "r", 10)
    (repo / ".devloop" / "features").mkdir(parents=True)
    (repo / ".devloop" / "features" / "x.md").write_text("secret plan")
    first = project_map(repo, 2_000)
    assert ".devloop" not in first
    assert project_map(repo, 2_000) == first  # byte-stable: the cached prefix


def test_binary_files_are_listed_not_read(tmp_path):
    repo = make_repo(tmp_path / "r", 3)
    (repo / "logo.png").write_bytes(b"\x89PNG\0\0\0" * 100)
    subprocess.run(["git", "add", "logo.png"], cwd=repo, check=True)
    text = project_map(repo, 4_000)
    assert "logo.png (700 bytes)" in text and "### logo.png" not in text


def test_untracked_files_are_never_mapped(tmp_path):
    repo = make_repo(tmp_path / "r", 3)
    (repo / "secret.env").write_text("TOKEN=untracked-secret-value\n")
    (repo / "notes").mkdir()
    (repo / "notes" / "draft.md").write_text("# my private draft\n")
    text = project_map(repo, 4_000)
    assert "README.md" in text
    assert "secret.env" not in text and "untracked-secret-value" not in text
    assert "notes/" not in text and "private draft" not in text


def test_render_fills_placeholders_and_leaves_json_alone():
    text = 'Plan {title}: {{title}} stays, {"verdict": "pass"} stays, {{"a": {"b": 1}}} too.'
    out = render(text, {"title": "X"})
    assert out == 'Plan X: {title} stays, {"verdict": "pass"} stays, {{"a": {"b": 1}}} too.'


def test_render_names_a_missing_placeholder():
    with pytest.raises(TemplateError, match=r"'plan' uses \{research\}"):
        render("Notes: {research}", {"title": "x"}, name="plan")


def test_repository_override_wins(tmp_path):
    override = tmp_path / ".devloop" / "templates" / "research.md"
    override.parent.mkdir(parents=True)
    override.write_text("Custom research for {title}.")
    assert (
        prompts.render_template(tmp_path, "research", {"title": "T"}) == "Custom research for T.\n"
    )
    assert "Step 2 of 15" in prompts.load_template(tmp_path, "plan")  # others: shipped


def test_every_shipped_template_renders_with_what_the_loop_gives(tmp_path):
    shipped = prompts.template_path(tmp_path, "plan").parent
    names = sorted(p.stem for p in shipped.glob("*.md") if p.stem != "README")
    readme = (shipped / "README.md").read_text()
    for name in names:
        assert f"`{name}.md`" in readme, f"templates/README.md does not document {name}.md"
        for placeholder in prompts.placeholders(prompts.load_template(tmp_path, name)):
            assert f"{{{placeholder}}}" in readme, (name, placeholder)


def test_section_extracts_the_integration_contract():
    plan = "## Approach\nx\n## Integration Contract\n### Interfaces\n- f()\n## Tests\nt\n"
    assert prompts.section(plan, "integration contract") == (
        "## Integration Contract\n### Interfaces\n- f()\n"
    )
    assert prompts.section(plan, "Rollback") is None

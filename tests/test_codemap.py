"""The tree-sitter project map: outlines with signatures in every listed language, ranking
by references personalised to the spec, the exact token budget, the fallback for files no
parser outlines, and the parse cache."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from codemap_samples import SAMPLES, report_paths, write_sample
from generated_repo import write_modules

from devloop import tokens
from devloop.codemap import build_map, definition_lines, project_map
from devloop.codemap import fit as fit_mod
from devloop.codemap.build import collect_tags, outlines
from devloop.codemap.cache import CACHE_FILE
from devloop.codemap.files import blob_id, scan
from devloop.codemap.rank import rank

IDS = [s.language for s in SAMPLES]


def definitions(text: str) -> str:
    start = text.index("## Definitions")
    end = text.find("## Excerpts", start)
    return text[start : end if end != -1 else None]


def ranked_files(text: str) -> list[str]:
    """The file headings of the definitions section, in order."""
    lines = definitions(text).splitlines()
    return [
        lines[i + 1]
        for i, line in enumerate(lines[:-1])
        if line == "" and lines[i + 1][:1] not in ("", "#", "M")
    ]


def file_block(text: str, path: str) -> list[str]:
    section = definitions(text).splitlines()
    start = section.index(path)
    block = []
    for line in section[start + 1 :]:
        if not line:
            break
        block.append(line)
    return block


@pytest.mark.parametrize("sample", SAMPLES, ids=IDS)
def test_the_map_outlines_a_method_inside_its_class_or_impl_with_its_signature(tmp_path, sample):
    repo = write_sample(tmp_path / sample.language, sample)
    text = project_map(repo, 4_000)
    block = file_block(text, sample.ledger)
    positions = [block.index(line) for line in sample.method_lines]  # present, whole
    assert positions == sorted(positions), block


@pytest.mark.parametrize("sample", SAMPLES, ids=IDS)
def test_a_spec_naming_an_identifier_ranks_its_definition_and_its_users_first(tmp_path, sample):
    repo = write_sample(tmp_path / sample.language, sample)
    plain = ranked_files(project_map(repo, 4_000))
    assert plain[0] == sample.util  # referenced by every file: first when the spec names nothing
    spec = f"# Round the totals\n\nMake `{sample.ident}` round to whole cents.\n"
    steered = ranked_files(project_map(repo, 4_000, hints=spec))
    assert set(steered[:3]) == {sample.ledger, *report_paths(sample)}, steered
    assert steered[0] == sample.ledger


def mixed_repo(root: Path, modules: int = 120) -> Path:
    """Every sample side by side, generated Python modules, a README and a Markdown doc."""
    for sample in SAMPLES:
        write_sample(root / sample.language, sample)
        shutil.rmtree(root / sample.language / ".git")
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    (root / "README.md").write_text("# Mixed\n\nEvery language the map knows.\n")
    write_modules(root, modules)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    return root


@pytest.mark.parametrize("budget", [1_000, 2_500, 4_000, 8_000])
def test_the_map_fills_its_token_budget_and_never_exceeds_it(tmp_path, budget):
    repo = mixed_repo(tmp_path / "mixed")
    text = project_map(repo, budget, hints="Make `reconcileTotals` round to cents.")
    used = tokens.estimate(text)
    assert budget - fit_mod.EXCERPT_MIN <= used <= budget, (budget, used)


def test_the_definitions_are_the_most_ranked_entries_that_fit(tmp_path):
    """The binary search is exact: one more ranked entry would not fit the room left."""
    repo = mixed_repo(tmp_path / "mixed")
    files = scan(repo)
    found, _ = collect_tags(repo, files)
    ranking = rank([f.path for f in files], found, "Make `ReconcileTotals` round to cents.")
    order = fit_mod.file_order(files, ranking)
    shown = outlines(files, found)
    entries = fit_mod.ranked_entries(shown, ranking, order)
    for room in (300, 1_000, 2_000):
        section = fit_mod.fit_definitions(entries, shown, order, room)
        count = next(
            n
            for n in range(len(entries) + 1)
            if fit_mod.definitions_section(entries[:n], shown, order) == section
        )
        assert tokens.estimate(section) <= room
        more = fit_mod.definitions_section(entries[: count + 1], shown, order)
        assert tokens.estimate(more) > room, (room, count)
    top = fit_mod.fit_definitions(entries, shown, order, 300)
    assert "go/ledger.go" in top and "ReconcileTotals" in top


def test_files_no_parser_outlines_fall_back_to_layout_and_excerpts(tmp_path):
    repo = write_sample(tmp_path / "py", SAMPLES[0])
    (repo / "broken.py").write_text("}}}} ((( def def class :::: ]]]\n")
    (repo / "notes.md").write_text(
        "# Design notes\n\nWhy the ledger rounds.\n\n## Rounding\n\nTo cents.\n"
    )
    (repo / "build.zig").write_text('const std = @import("std");\n')
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    result = build_map(repo, 4_000)
    text = result.text
    layout = text[: text.index("## Definitions")]
    for name in ("broken.py (1 line)", "notes.md (7 lines)", "build.zig (1 line)"):
        assert name in layout
    section = definitions(text)
    assert "broken.py" not in section and "build.zig" not in section
    assert file_block(text, "notes.md") == ["1: # Design notes", "5: ## Rounding"]  # headings
    excerpts = text[text.index("## Excerpts") :]
    assert "### broken.py\n```\n}}}} ((( def def class" in excerpts
    assert "### build.zig" in excerpts
    assert result.stats.unparsed == 3  # broken.py, notes.md, build.zig


def test_the_parse_cache_is_used_on_the_second_build(tmp_path):
    repo = mixed_repo(tmp_path / "mixed", modules=30)
    (repo / ".devloop").mkdir()
    spec = "Make `reconcile_totals` round to cents."
    first = build_map(repo, 4_000, spec)
    cache = repo / ".devloop" / "cache" / CACHE_FILE
    assert cache.is_file()
    parsed = first.stats.parsed
    assert parsed > 100 and first.stats.cached == 0
    second = build_map(repo, 4_000, spec)
    assert second.stats.parsed == 0 and second.stats.cached == parsed
    assert second.text == first.text  # the frozen prefix does not depend on the cache

    ledger = repo / "rust" / "src" / "ledger.rs"
    ledger.write_text(ledger.read_text().replace("reconcile_totals", "reconcile_all"))
    third = build_map(repo, 4_000, spec)
    assert (third.stats.parsed, third.stats.cached) == (1, parsed - 1)
    assert "pub fn reconcile_all(&self" in third.text
    stored = json.loads(cache.read_text())["entries"]
    assert f"{blob_id(ledger.read_bytes())}:rust" in stored


def test_a_damaged_or_missing_cache_only_costs_time(tmp_path):
    repo = write_sample(tmp_path / "go", SAMPLES[4])
    plain = build_map(repo, 2_000)
    assert plain.stats.parsed == 10
    assert not (repo / ".devloop").exists()  # no .devloop/: nothing written into the repository
    (repo / ".devloop" / "cache").mkdir(parents=True)
    (repo / ".devloop" / "cache" / CACHE_FILE).write_text("{not json")
    again = build_map(repo, 2_000)
    assert again.stats.parsed == 10 and again.text == plain.text
    assert build_map(repo, 2_000).stats.cached == 10


def test_contract_views_number_methods_the_old_patterns_missed():
    text = (
        "public class Store {\n"
        "    private final Map<String, Record> items = new HashMap<>();\n"
        "\n"
        "    public Record find(String key) {\n"
        "        return items.get(key);\n"
        "    }\n"
        "}\n"
    )
    assert definition_lines("src/Store.java", text) == [
        (1, "public class Store {"),
        (4, "    public Record find(String key) {"),
    ]
    assert definition_lines("docs/guide.md", "# Guide\n\ntext\n## Install\n") == [
        (1, "# Guide"),
        (4, "## Install"),
    ]


def test_help_does_not_import_tree_sitter():
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "devloop", "--help"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    modules = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    assert not {m for m in modules if m.split(".")[0].startswith("tree_sitter")}
    assert "devloop.codemap" not in modules


def test_without_tree_sitter_the_map_falls_back_to_the_patterns(tmp_path, monkeypatch):
    from devloop.codemap import tags

    monkeypatch.setattr(tags, "available", lambda: False)
    repo = write_sample(tmp_path / "py", SAMPLES[0])
    result = build_map(repo, 2_000)
    assert result.stats.parsed == 0 and result.stats.unparsed == 10
    assert file_block(result.text, "app/ledger.py") == [
        "1: class Ledger:",
        "2: def reconcileTotals(self, entries: list[int]) -> int:",
    ]
    assert tokens.estimate(result.text) <= 2_000

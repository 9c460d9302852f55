"""`devloop init` in each ecosystem it knows, on small generated repositories: it writes a
command only when the project defines what it needs and every program of it is on PATH (a
PATH of fake programs here), and says what it left out and why; it names the projects below
the root that the root's commands do not reach."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from test_init import tool_bin

from devloop import ecosystems

README = Path(__file__).resolve().parent.parent / "README.md"


@pytest.fixture
def init(git_repo: Path, tmp_path: Path, run_cli):
    """init(*programs) runs `devloop init --force` in `git_repo` with only git, devloop and
    fake `programs` on PATH; returns ([commands], the printed lines, the whole config)."""
    calls = iter(range(100))

    def run(*programs: str) -> tuple[dict, list[str], dict]:
        bin_dir = tool_bin(tmp_path / f"path{next(calls)}", *programs)
        result = run_cli(git_repo, "init", "--force", env={"PATH": str(bin_dir)})
        assert result.exit_code == 0, result.output
        config = tomllib.loads((git_repo / "devloop.toml").read_text())
        return config["commands"], result.output.splitlines(), config

    return run


def write(repo: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def written(commands: dict) -> dict[str, str]:
    keys = ("lint", "format", "format_fix", "test")
    return {k: commands[k] for k in keys if commands[k]}


# ------------------------------------------------------------------ Python


def test_python_configured_ruff_and_mypy_join_lint(git_repo, init):
    write(git_repo, {"pyproject.toml": "[project]\nname = 'x'\n[tool.ruff]\n[tool.mypy]\n"})
    commands, lines, _ = init("ruff", "mypy", "pytest")
    assert written(commands) == {
        "lint": "ruff check . && mypy .",
        "format": "ruff format --check .",
        "format_fix": "ruff format .",
        "test": "pytest -q",
    }
    assert "  found: Python (pyproject.toml)" in lines
    assert not [line for line in lines if "left out" in line]


def test_python_mypy_files_from_its_config_and_left_out_when_missing(git_repo, init):
    write(git_repo, {"setup.py": "", "mypy.ini": "[mypy]\nfiles = src\n"})
    commands, _, _ = init("ruff", "mypy")
    assert commands["lint"] == "ruff check . && mypy"  # the config names the files

    commands, lines, _ = init("ruff")
    assert commands["lint"] == "ruff check ."
    assert "  left out typecheck (part of lint): `mypy` is not on PATH" in lines


def test_python_flake8_when_configured_and_ruff_format_only_when_ruff_is(git_repo, init):
    write(git_repo, {"app.py": "X = 1\n", ".flake8": "[flake8]\nmax-line-length = 100\n"})
    commands, lines, _ = init("ruff", "flake8", "mypy", "pytest")
    assert written(commands) == {"lint": "flake8 .", "test": "pytest -q"}
    assert (
        "  left out format, format_fix (ruff format --check .): not configured: it needs a ruff "
        "config ([tool.ruff] in pyproject.toml, ruff.toml or .ruff.toml)"
    ) in lines
    assert (
        "  left out typecheck (part of lint) (mypy .): not configured: it needs a mypy config "
        "(mypy.ini, .mypy.ini, [tool.mypy], or [mypy] in setup.cfg)"
    ) in lines


def test_python_without_a_linter_config_gets_ruffs_default_rules_not_its_formatter(git_repo, init):
    write(git_repo, {"pyproject.toml": "[project]\nname = 'x'\n"})
    commands, lines, _ = init("ruff", "pytest")
    assert written(commands) == {"lint": "ruff check .", "test": "pytest -q"}
    assert any(line.startswith("  left out format, format_fix (ruff format") for line in lines)


def test_python_black_formats_when_configured(git_repo, init):
    write(git_repo, {"pyproject.toml": "[tool.black]\nline-length = 88\n"})
    commands, _, _ = init("black", "ruff")
    assert (commands["format"], commands["format_fix"]) == ("black --check .", "black .")


def test_python_unittest_when_pytest_is_neither_named_nor_installed(git_repo, init):
    write(git_repo, {"setup.py": "", "tests/test_calc.py": "import unittest\n"})
    commands, lines, _ = init("python3")
    assert commands["test"] == "python3 -m unittest discover -s tests"
    assert not [line for line in lines if "`pytest`" in line]  # not missed: unittest runs

    commands, _, _ = init("python3", "pytest")
    assert commands["test"] == "pytest -q"  # pytest runs unittest's tests too


def test_python_a_project_naming_pytest_never_falls_back_to_unittest(git_repo, init):
    write(
        git_repo,
        {
            "pyproject.toml": "[project]\nname = 'x'\n[project.optional-dependencies]\n"
            "dev = ['pytest>=8']\n",
            "tests/test_calc.py": "import unittest\n",
        },
    )
    commands, lines, _ = init("python3")
    assert commands["test"] == ""
    assert "  left out test: `pytest` is not on PATH" in lines


# ------------------------------------------------------------------ JavaScript/TypeScript


SCRIPTS = {"test": "vitest run", "lint": "eslint .", "typecheck": "tsc --noEmit"}


@pytest.mark.parametrize(
    "lockfile, manager, test",
    [
        ("package-lock.json", "npm", "npm test"),
        ("pnpm-lock.yaml", "pnpm", "pnpm test"),
        ("yarn.lock", "yarn", "yarn test"),
        ("bun.lockb", "bun", "bun run test"),
        ("bun.lock", "bun", "bun run test"),
    ],
)
def test_node_package_manager_from_the_lockfile(git_repo, init, lockfile, manager, test):
    write(git_repo, {"package.json": json.dumps({"scripts": SCRIPTS}), lockfile: ""})
    commands, lines, _ = init(manager, "npm")
    assert written(commands) == {
        "lint": f"{manager} run lint && {manager} run typecheck",
        "test": test,
    }
    assert "  found: JavaScript/TypeScript (package.json)" in lines
    assert any(line.startswith("  JavaScript/TypeScript: the scripts run") for line in lines)
    assert [".devloop/", "node_modules/"] == (git_repo / ".gitignore").read_text().split()


def test_node_only_with_the_lockfiles_manager_on_path(git_repo, init):
    write(git_repo, {"package.json": json.dumps({"scripts": SCRIPTS}), "pnpm-lock.yaml": ""})
    commands, lines, _ = init("npm", "yarn")
    assert written(commands) == {}
    assert "  left out lint, typecheck (part of lint), test: `pnpm` is not on PATH" in lines
    assert (
        '  to add one: install the tool, then set it under [commands] in devloop.toml, e.g. lint = "pnpm run lint"'
    ) in lines


def test_node_package_manager_field_wins_and_npms_placeholder_test_is_not_a_test(git_repo, init):
    package = {
        "packageManager": "yarn@4.1.0",
        "scripts": {"test": 'echo "Error: no test specified" && exit 1', "lint": "eslint ."},
    }
    write(git_repo, {"package.json": json.dumps(package), "package-lock.json": "{}"})
    commands, lines, _ = init("yarn", "npm")
    assert written(commands) == {"lint": "yarn run lint"}
    assert (
        '  left out test (yarn test): not configured: it needs a "test" script in package.json'
        in lines
    )


# ------------------------------------------------------------------ Go


def test_go_test_and_vet(git_repo, init):
    write(git_repo, {"go.mod": "module example.com/calc\n\ngo 1.22\n"})
    commands, lines, _ = init("go")
    assert written(commands) == {"lint": "go vet ./...", "test": "go test ./..."}
    assert "  found: Go (go.mod)" in lines
    assert any(line.startswith("  Go: go downloads modules") for line in lines)

    commands, lines, _ = init()
    assert written(commands) == {}
    assert "  left out lint, test: `go` is not on PATH" in lines


def test_a_helper_script_does_not_make_a_go_repository_a_python_project(git_repo, init):
    write(git_repo, {"go.mod": "module example.com/calc\n", "gen.py": "print('generated')\n"})
    commands, lines, _ = init("go", "ruff", "pytest")
    assert written(commands) == {"lint": "go vet ./...", "test": "go test ./..."}
    assert "  found: Go (go.mod)" in lines

    (git_repo / "go.mod").unlink()
    commands, lines, _ = init("go", "ruff", "pytest")
    assert written(commands) == {"lint": "ruff check .", "test": "pytest -q"}
    assert "  found: Python (gen.py)" in lines


def test_go_golangci_lint_only_when_configured_and_installed(git_repo, init):
    write(git_repo, {"go.mod": "module example.com/calc\n"})
    commands, lines, _ = init("go", "golangci-lint")
    assert commands["lint"] == "go vet ./..."  # installed, but the project does not use it

    (git_repo / ".golangci.yml").write_text("linters:\n  enable: [errcheck]\n")
    commands, _, _ = init("go", "golangci-lint")
    assert commands["lint"] == "golangci-lint run"

    commands, lines, _ = init("go")
    assert commands["lint"] == "go vet ./..."
    assert (
        "  left out lint 'golangci-lint run': `golangci-lint` is not on PATH; "
        "wrote 'go vet ./...' in its place"
    ) in lines


# ------------------------------------------------------------------ Rust


def test_rust_test_clippy_and_fmt_each_when_installed(git_repo, init):
    write(git_repo, {"Cargo.toml": '[package]\nname = "calc"\nversion = "0.1.0"\n'})
    commands, lines, _ = init("cargo", "cargo-clippy", "cargo-fmt")
    assert written(commands) == {
        "lint": "cargo clippy --all-targets -- -D warnings",
        "format": "cargo fmt --check",
        "format_fix": "cargo fmt",
        "test": "cargo test",
    }
    assert any(line.startswith("  Rust: cargo downloads crates") for line in lines)

    commands, lines, _ = init("cargo")
    assert written(commands) == {"test": "cargo test"}
    assert "  left out lint: `cargo-clippy` is not on PATH" in lines
    assert "  left out format, format_fix: `cargo-fmt` is not on PATH" in lines

    commands, lines, _ = init()
    assert "  left out lint, format, format_fix, test: `cargo` is not on PATH" in lines
    assert (git_repo / ".gitignore").read_text().split() == [".devloop/", "target/"]


# ------------------------------------------------------------------ Java/Kotlin


def test_maven_offline_with_its_local_repository_visible_in_the_sandbox(git_repo, init):
    write(git_repo, {"pom.xml": "<project><modelVersion>4.0.0</modelVersion></project>\n"})
    commands, lines, config = init("mvn")
    assert written(commands) == {"test": "mvn -o -q test"}
    assert config["sandbox"]["read"] == ["~/.m2/repository"]  # never ~/.m2: settings.xml
    assert "  found: Java/Kotlin (Maven) (pom.xml)" in lines
    assert any("mvn -o runs offline" in line for line in lines)

    commands, lines, config = init()
    assert written(commands) == {} and config["sandbox"]["read"] == []
    assert "  left out test: `mvn` is not on PATH" in lines


def test_gradle_wrapper_else_gradle(git_repo, init):
    write(git_repo, {"build.gradle.kts": 'plugins { kotlin("jvm") version "2.0.0" }\n'})
    commands, lines, _ = init("gradle")
    assert written(commands) == {"test": "gradle test"}
    assert any(line.startswith("  Java/Kotlin (Gradle): Gradle downloads") for line in lines)
    commands, lines, _ = init()
    assert written(commands) == {}
    assert "  left out test: `gradle` is not on PATH" in lines

    gradlew = git_repo / "gradlew"
    gradlew.write_text("#!/bin/sh\nexit 0\n")
    gradlew.chmod(0o644)
    commands, lines, _ = init("gradle")
    assert written(commands) == {}  # the wrapper is the project's choice: no plain gradle
    assert "  left out test: `./gradlew` is not an executable file (chmod +x gradlew)" in lines

    gradlew.chmod(0o755)
    commands, _, _ = init()
    assert written(commands) == {"test": "./gradlew test"}


# ------------------------------------------------------------------ C/C++


CMAKE = "cmake_minimum_required(VERSION 3.13)\nproject(calc C)\nenable_testing()\n"


def test_cmake_builds_then_runs_ctest(git_repo, init):
    write(git_repo, {"CMakeLists.txt": CMAKE})
    commands, lines, _ = init("cmake", "ctest")
    assert commands["test"] == (
        "cmake -S . -B build && cmake --build build && ctest --test-dir build --output-on-failure"
    )
    assert (
        "  C/C++ (CMake): the test command configures and builds into build/ first, then runs "
        "ctest (never on a stale build)"
    ) in lines
    assert "build/" in (git_repo / ".gitignore").read_text().split()

    commands, lines, _ = init("cmake")
    assert "  left out test: `ctest` is not on PATH" in lines


def test_cmake_build_dir_moves_aside_when_build_is_the_projects_own(git_repo, init):
    write(git_repo, {"CMakeLists.txt": CMAKE, "build/release.sh": "#!/bin/sh\n"})
    commands, lines, _ = init("cmake", "ctest")
    assert "-B build-devloop" in commands["test"]
    assert "--test-dir build-devloop" in commands["test"]
    assert "build-devloop/" in (git_repo / ".gitignore").read_text().split()
    assert (
        "  C/C++ (CMake): the test command configures and builds into build-devloop/ first "
        "(build/ holds files that are not a CMake build), then runs ctest (never on a stale build)"
    ) in lines


def test_cmake_without_tests_says_what_it_needs(git_repo, init):
    write(git_repo, {"CMakeLists.txt": "project(calc C)\n# enable_testing() one day\n"})
    commands, lines, _ = init("cmake", "ctest")
    assert commands["test"] == ""
    assert any(
        line.startswith("  left out test (cmake -S . -B build")
        and line.endswith(
            "it needs tests in CMakeLists.txt (enable_testing(), include(CTest) or add_test())"
        )
        for line in lines
    )


@pytest.mark.parametrize(
    "makefile, expected",
    [
        ("all:\n\tcc -o calc calc.c\ntest: all\n\t./calc\n", "make test"),
        ("CFLAGS := -O2\n.PHONY: check\ncheck:: all\n\t./calc\n", "make check"),
        ("test := yes\ntests:\n\t./run\n", ""),  # a variable and another target
    ],
)
def test_make_test_or_check_only_when_the_makefile_has_it(git_repo, init, makefile, expected):
    write(git_repo, {"Makefile": makefile})
    commands, lines, _ = init("make")
    assert commands["test"] == expected
    if expected:
        _, lines, _ = init()
        assert "  left out test: `make` is not on PATH" in lines
    else:
        assert (
            "  left out test (make test): not configured: it needs a test or check target in the "
            "Makefile (`make check` when it has only that)"
        ) in lines


# ------------------------------------------------------------------ Ruby


def test_ruby_rspec_with_a_gemfile_and_spec(git_repo, init):
    write(git_repo, {"Gemfile": "gem 'rspec'\n", "spec/calc_spec.rb": ""})
    commands, lines, _ = init("bundle")
    assert written(commands) == {"test": "bundle exec rspec"}
    assert "  found: Ruby (Gemfile)" in lines

    commands, lines, _ = init()
    assert "  left out test: `bundle` is not on PATH" in lines


@pytest.mark.parametrize(
    "rakefile",
    [
        "require 'rake/testtask'\nRake::TestTask.new do |t|\n  t.pattern = 'test/*_test.rb'\nend\n",
        "task :test do\n  ruby 'test/all.rb'\nend\n",
        "task test: [:build]\n",
    ],
)
def test_ruby_rake_test_when_the_rakefile_defines_it(git_repo, init, rakefile):
    write(git_repo, {"Gemfile": "gem 'rake'\n", "Rakefile": rakefile})
    commands, _, _ = init("bundle")
    assert commands["test"] == "bundle exec rake test"

    (git_repo / "Gemfile").unlink()
    commands, _, _ = init("rake")
    assert commands["test"] == "rake test"
    commands, lines, _ = init("bundle")
    assert commands["test"] == ""
    assert "  left out test: `rake` is not on PATH" in lines


def test_ruby_rakefile_without_a_test_task(git_repo, init):
    write(git_repo, {"Gemfile": "", "Rakefile": "Rake::TestTask.new(:spec)\ntask :build\n"})
    commands, lines, _ = init("bundle")
    assert commands["test"] == ""
    assert (
        "  left out test (bundle exec rake test): not configured: it needs a Gemfile and a test "
        "task in the Rakefile"
    ) in lines


# ------------------------------------------------------------------ monorepos and the rest


def test_monorepo_names_what_the_roots_commands_do_not_reach(git_repo, init):
    write(
        git_repo,
        {
            "pyproject.toml": "[project]\nname = 'x'\n",
            "web/package.json": json.dumps({"scripts": {"test": "jest"}}),
            "web/package-lock.json": "{}",
            "web/node_modules/left-pad/package.json": "{}",  # a dependency, not a project
            "web/e2e/package.json": "{}",  # part of web/, already named
            "app/setup.py": "def setup():\n    pass\n",  # a module, not a project
            "services/api/go.mod": "module example.com/api\n",
            "docs/Makefile": "html:\n\tsphinx-build . _build\n",  # a helper, not a project
            ".cache/x/Cargo.toml": "",  # hidden: not searched
        },
    )
    commands, lines, _ = init("pytest", "npm")
    assert written(commands) == {"test": "pytest -q"}
    start = lines.index(
        "  not covered: projects below the root, which [commands] (run at the root) do not reach:"
    )
    assert lines[start + 1 : start + 4] == [
        '    web/ (JavaScript/TypeScript): test would be "npm test"',
        "    services/api/ (Go): no test: `go` is not on PATH",
        '  to include one, chain it into [commands] by hand, e.g. test = "pytest -q && (cd web && npm test)"',
    ]
    assert not [
        line
        for line in lines
        if any(name in line for name in ("docs/", "left-pad", ".cache", "e2e", "app/"))
    ]


def test_monorepo_workspace_members_are_reached_from_the_root(git_repo, init):
    write(
        git_repo,
        {
            "package.json": json.dumps({"workspaces": ["packages/*"], "scripts": {"test": "t"}}),
            "packages/a/package.json": "{}",
            "packages/b/package.json": "{}",
            "tools/gen/Cargo.toml": '[package]\nname = "gen"\n',
        },
    )
    commands, lines, _ = init("npm")
    assert commands["test"] == "npm test"
    assert (
        "  reached through the root's workspace: packages/a/package.json, packages/b/package.json"
    ) in lines
    assert "    tools/gen/ (Rust): no test: `cargo` is not on PATH" in lines


def test_an_unknown_ecosystem_says_so(git_repo, init):
    write(git_repo, {"mix.exs": "defmodule Calc.MixProject do\nend\n"})
    commands, lines, _ = init("mix")
    assert written(commands) == {}
    assert (
        "  found: no manifest of an ecosystem devloop knows at the root (the README lists them)"
    ) in lines
    assert "  no lint/test commands detected; set them under [commands] in devloop.toml" in lines


def test_several_ecosystems_at_the_root_first_wins_and_the_rest_is_said(git_repo, init):
    write(
        git_repo,
        {
            "Cargo.toml": '[package]\nname = "calc"\n',
            "package.json": json.dumps({"scripts": {"lint": "eslint ."}}),
        },
    )
    commands, lines, _ = init("npm", "cargo", "cargo-clippy")
    assert written(commands) == {"lint": "npm run lint", "test": "cargo test"}
    assert "  found: JavaScript/TypeScript (package.json), Rust (Cargo.toml)" in lines
    assert (
        "  left out lint 'cargo clippy --all-targets -- -D warnings': lint is 'npm run lint' "
        "(JavaScript/TypeScript) already; to run both, chain them: "
        'lint = "npm run lint && cargo clippy --all-targets -- -D warnings"'
    ) in lines
    assert (git_repo / ".gitignore").read_text().split() == [
        ".devloop/",
        "node_modules/",
        "target/",
    ]


def test_a_type_check_shadowed_by_another_ecosystems_is_chained_into_lint(git_repo, init):
    write(
        git_repo,
        {
            "pyproject.toml": "[tool.ruff]\n[tool.mypy]\n",
            "package.json": json.dumps({"scripts": {"typecheck": "tsc --noEmit"}}),
        },
    )
    commands, lines, _ = init("ruff", "mypy", "npm")
    assert commands["lint"] == "ruff check . && mypy ."
    assert (
        "  left out typecheck (part of lint) 'npm run typecheck': typecheck (part of lint) is "
        "'mypy .' (Python) already; to run both, chain them: "
        'lint = "ruff check . && mypy . && npm run typecheck"'
    ) in lines


def test_readme_lists_the_ecosystems_init_detects():
    assert ecosystems.reference_markdown() in README.read_text()


# ------------------------------------------------------------------ the files a check gets


def test_init_writes_which_files_a_wrapped_linter_checks_and_the_hook_keeps_to_them(
    git_repo, tmp_path, run_devloop
):
    """`npm run lint` names no files a tool name could tell, so init writes the ecosystem's:
    a commit of a README alone runs no lint, a commit of a .ts file does."""
    import os
    import subprocess

    write(git_repo, {"package.json": json.dumps({"scripts": {"lint": "eslint ."}}),
                     "package-lock.json": "{}"})  # fmt: skip
    bin_dir = tool_bin(tmp_path, "npm")
    proc = run_devloop(git_repo, "init", "--hooks", env={"PATH": str(bin_dir)})
    assert proc.returncode == 0, proc.stderr
    commands = tomllib.loads((git_repo / "devloop.toml").read_text())["commands"]
    assert commands["lint"] == "npm run lint"
    assert "*.ts" in commands["lint_files"] and "*.js" in commands["lint_files"]
    assert "*.py" not in commands["lint_files"]
    env = dict(os.environ, PATH=str(bin_dir))
    log = tmp_path / "npm.log"

    def commit(name: str) -> None:
        (git_repo / name).parent.mkdir(parents=True, exist_ok=True)
        (git_repo / name).write_text("x\n")
        subprocess.run(["git", "add", "-A"], cwd=git_repo, env=env, check=True)
        done = subprocess.run(["git", "commit", "-qm", f"chore: add {name}"], cwd=git_repo,
                              env=env, capture_output=True, text=True)  # fmt: skip
        assert done.returncode == 0, done.stderr

    commit("NOTES.md")
    assert not log.exists() or "run lint" not in log.read_text()  # nothing it checks
    commit("src/app.ts")
    assert "run lint" in log.read_text()

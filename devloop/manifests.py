"""What a repository's own files say about how it is built and checked: its manifests, lock
files and tool configs, read at one directory (the facts `devloop init` detects commands
from), and the manifests of projects nested below it.

Reading never fails: a file that is missing, unreadable or malformed is a fact that does not
hold. Nothing is run and nothing is imported beyond the standard library.

May import: the standard library only.
"""

from __future__ import annotations

import configparser
import json
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

RUFF_FILES = ("ruff.toml", ".ruff.toml")
MYPY_FILES = ("mypy.ini", ".mypy.ini")
GOLANGCI_FILES = (".golangci.yml", ".golangci.yaml", ".golangci.toml", ".golangci.json")
MAKEFILES = ("GNUmakefile", "makefile", "Makefile")  # GNU make's order
RAKEFILES = ("Rakefile", "rakefile", "Rakefile.rb", "rakefile.rb")
# Lock files name the package manager; `packageManager` in package.json wins over them.
LOCKFILES = (
    ("pnpm-lock.yaml", "pnpm"),
    ("yarn.lock", "yarn"),
    ("bun.lockb", "bun"),
    ("bun.lock", "bun"),
    ("package-lock.json", "npm"),
    ("npm-shrinkwrap.json", "npm"),
)
NPM_PLACEHOLDER = "no test specified"  # `npm init`'s test script, which always fails
CMAKE_BUILD = "build"  # where the test command builds, unless that name is taken
CMAKE_BUILD_ELSEWHERE = "build-devloop"

# Looking for nested projects: how deep, how much, and what is never a project of the
# repository's own (dependencies, build output, environments).
NESTED_DEPTH = 4
NESTED_MAX_DIRS = 5_000
PRUNED_DIRS = {
    "node_modules",
    "vendor",
    "third_party",
    "target",
    "build",
    "dist",
    "out",
    "venv",
    "env",
    "__pycache__",
}


@dataclass
class Project:
    """The facts of the project at `root`."""

    root: Path
    # Python
    ruff: bool = False  # configured: [tool.ruff], ruff.toml, .ruff.toml
    flake8: bool = False  # .flake8, [flake8] in setup.cfg or tox.ini, [tool.flake8]
    black: bool = False  # [tool.black]
    mypy: bool = False  # mypy.ini, .mypy.ini, [tool.mypy], [mypy] in setup.cfg
    mypy_files: bool = False  # the mypy config names the files it checks
    pytest: bool = False  # the project names pytest: its config, a conftest.py, a dependency
    unittest_start: str = ""  # where unittest tests live ("tests", "test", "."), or none
    python_workspace: bool = False  # [tool.uv.workspace]
    # JavaScript/TypeScript
    scripts: dict[str, str] = field(default_factory=dict)  # package.json "scripts"
    package_manager: str = "npm"
    node_workspace: bool = False  # package.json "workspaces" or pnpm-workspace.yaml
    # Go, Rust, Java/Kotlin
    golangci: bool = False  # a golangci-lint config at the root
    go_workspace: bool = False  # go.work
    cargo_workspace: bool = False  # [workspace] in Cargo.toml
    maven_modules: bool = False  # <modules> in pom.xml
    gradle_includes: bool = False  # settings.gradle(.kts) includes subprojects
    # C/C++
    cmake_tests: bool = False  # enable_testing(), include(CTest) or add_test() at the root
    cmake_build: str = CMAKE_BUILD
    make_target: str = ""  # "test" or "check" when the Makefile defines it
    # Ruby
    gemfile: bool = False
    rspec: bool = False  # a Gemfile and spec/
    rake_test: bool = False  # the Rakefile defines a test task

    @property
    def pm_test(self) -> str:
        """The package manager's command for the `test` script (`bun test` is bun's own
        runner, not the script)."""
        return "bun run test" if self.package_manager == "bun" else f"{self.package_manager} test"

    def has_script(self, name: str) -> bool:
        script = self.scripts.get(name)
        return isinstance(script, str) and bool(script.strip()) and NPM_PLACEHOLDER not in script


def read(root: Path) -> Project:
    """The facts of the project at `root`."""
    project = Project(root)
    pyproject = _toml(root / "pyproject.toml")
    tool = pyproject.get("tool") if isinstance(pyproject.get("tool"), dict) else {}
    setup_cfg = _ini(root / "setup.cfg")
    tox_ini = _ini(root / "tox.ini")

    project.ruff = "ruff" in tool or _any_file(root, RUFF_FILES)
    project.flake8 = (
        (root / ".flake8").is_file()
        or setup_cfg.has_section("flake8")
        or tox_ini.has_section("flake8")
        or "flake8" in tool
    )
    project.black = "black" in tool
    mypy_ini = next((_ini(root / n) for n in MYPY_FILES if (root / n).is_file()), None)
    project.mypy = mypy_ini is not None or "mypy" in tool or setup_cfg.has_section("mypy")
    project.mypy_files = bool(
        (mypy_ini is not None and mypy_ini.has_option("mypy", "files"))
        or (isinstance(tool.get("mypy"), dict) and tool["mypy"].get("files"))
        or setup_cfg.has_option("mypy", "files")
    )
    project.pytest = _names_pytest(root, tool, setup_cfg, tox_ini)
    project.unittest_start = "" if project.pytest else _unittest_start(root)
    uv = tool.get("uv") if isinstance(tool.get("uv"), dict) else {}
    project.python_workspace = "workspace" in uv

    package = _json(root / "package.json")
    scripts = package.get("scripts")
    project.scripts = scripts if isinstance(scripts, dict) else {}
    project.package_manager = _package_manager(root, package)
    project.node_workspace = "workspaces" in package or (root / "pnpm-workspace.yaml").is_file()

    project.golangci = _any_file(root, GOLANGCI_FILES)
    project.go_workspace = (root / "go.work").is_file()
    project.cargo_workspace = "workspace" in _toml(root / "Cargo.toml")
    project.maven_modules = "<modules>" in _text(root / "pom.xml")
    project.gradle_includes = any(
        re.search(r"^\s*include\b", _text(root / name), re.MULTILINE)
        for name in ("settings.gradle", "settings.gradle.kts")
    )

    project.cmake_tests = _cmake_tests(_text(root / "CMakeLists.txt"))
    project.cmake_build = _cmake_build_dir(root)
    makefile = next((root / n for n in MAKEFILES if (root / n).is_file()), None)
    targets = make_targets(_text(makefile)) if makefile is not None else set()
    project.make_target = next((t for t in ("test", "check") if t in targets), "")

    project.gemfile = (root / "Gemfile").is_file() or (root / "gems.rb").is_file()
    project.rspec = project.gemfile and (root / "spec").is_dir()
    rakefile = next((root / n for n in RAKEFILES if (root / n).is_file()), None)
    project.rake_test = rakefile is not None and _rake_test(_text(rakefile))
    return project


# ------------------------------------------------------------------ Python


def _names_pytest(root: Path, tool: dict, setup_cfg, tox_ini) -> bool:
    if "pytest" in tool or (root / "pytest.ini").is_file():
        return True
    if any((root / d / "conftest.py").is_file() for d in (".", "tests", "test")):
        return True
    if setup_cfg.has_section("tool:pytest") or tox_ini.has_section("pytest"):
        return True
    texts = [_text(root / n) for n in ("pyproject.toml", "setup.cfg", "setup.py", "tox.ini")]
    texts += [_text(p) for p in sorted(root.glob("requirements*.txt"))[:10]]
    return any(re.search(r"\bpytest\b", text) for text in texts)


def _unittest_start(root: Path) -> str:
    """Where `python -m unittest discover` should start: the first of tests/, test/ and the
    root holding a test*.py that uses unittest; "" when none does."""
    for start in ("tests", "test", "."):
        directory = root / start
        if not directory.is_dir():
            continue
        for path in sorted(directory.glob("test*.py"))[:50]:
            if re.search(r"^\s*(import unittest|from unittest\b)", _text(path), re.MULTILINE):
                return start
    return ""


# ------------------------------------------------------------------ JavaScript


def _package_manager(root: Path, package: dict) -> str:
    declared = package.get("packageManager")
    if isinstance(declared, str):
        name = declared.split("@", 1)[0].strip()
        if name in {"npm", "pnpm", "yarn", "bun"}:
            return name
    for lockfile, manager in LOCKFILES:
        if (root / lockfile).is_file():
            return manager
    return "npm"


# ------------------------------------------------------------------ C and C++


def _cmake_tests(text: str) -> bool:
    code = re.sub(r"#.*", "", text)
    return bool(re.search(r"\b(enable_testing|add_test)\s*\(|include\s*\(\s*CTest\b", code, re.I))


def _cmake_build_dir(root: Path) -> str:
    """`build` unless that name holds something other than a CMake build tree (sources, a
    script): then a directory of devloop's own next to it."""
    build = root / CMAKE_BUILD
    if not build.exists() and not build.is_symlink():
        return CMAKE_BUILD
    if build.is_dir() and not build.is_symlink():
        if (build / "CMakeCache.txt").is_file() or not any(build.iterdir()):
            return CMAKE_BUILD
    return CMAKE_BUILD_ELSEWHERE


_RULE = re.compile(r"^(?P<targets>[^\s:=#][^:=#]*?)\s*(?:::|:)(?![:=])", re.MULTILINE)


def make_targets(text: str) -> set[str]:
    """The targets a Makefile's rules define (not its variables, not recipe lines)."""
    targets: set[str] = set()
    for match in _RULE.finditer(text):
        targets.update(match["targets"].split())
    return targets


# ------------------------------------------------------------------ Ruby


def _rake_test(text: str) -> bool:
    """A Rakefile defines `test`: a Rake::TestTask (named :test unless given another name),
    or `task :test`, `task test: ...`, `task "test"`."""
    if re.search(r"Rake::TestTask\.new(?!\s*\(\s*[:'\"](?!test\b))", text):
        return True
    return bool(re.search(r"\btask\s*\(?\s*(?::test\b|['\"]test['\"]|test:)", text))


# ------------------------------------------------------------------ nested projects


def nested(root: Path, names: set[str]) -> tuple[list[str], bool]:
    """Files called one of `names` in directories below `root` (not at it), as paths
    relative to it, sorted; and whether the search stopped at its limit. Hidden directories,
    dependencies and build output are not searched."""
    found: list[str] = []
    seen = 0
    for current, dirs, files in os.walk(root):
        here = Path(current)
        depth = len(here.relative_to(root).parts)
        dirs[:] = sorted(
            d
            for d in dirs
            if not d.startswith(".") and d not in PRUNED_DIRS and depth < NESTED_DEPTH
        )
        seen += 1
        if seen > NESTED_MAX_DIRS:
            return sorted(found), True
        if depth:
            found += [(here / f).relative_to(root).as_posix() for f in files if f in names]
    return sorted(found), False


# ------------------------------------------------------------------ reading


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""
    except OSError:
        return ""


def _toml(path: Path) -> dict:
    try:
        return tomllib.loads(_text(path))
    except tomllib.TOMLDecodeError:
        return {}


def _json(path: Path) -> dict:
    try:
        data = json.loads(_text(path) or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _ini(path: Path) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False)
    try:
        parser.read_string(_text(path))
    except configparser.Error:
        return configparser.RawConfigParser()
    return parser


def _any_file(root: Path, names: tuple[str, ...]) -> bool:
    return any((root / name).is_file() for name in names)
